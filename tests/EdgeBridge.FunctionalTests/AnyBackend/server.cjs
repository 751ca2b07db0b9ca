// A gRPC backend in Node.js (@grpc/grpc-js), for the edge to front with nothing but configuration.
// Usage: node server.cjs <prices.proto> — prints "listening <port>" once it serves on a free loopback port.
'use strict';
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const definition = loader.loadSync(process.argv[2], { longs: String, enums: String, defaults: true });
const service = grpc.loadPackageDefinition(definition).prices.v1.PriceService.service;
const prices = new Map([['ACME', 101.5], ['HOOL', 42.25]]);
const watchers = new Set();
let sequence = 0;

function price(symbol) {
  return { symbol, price: prices.get(symbol), sequence: String(sequence) };
}

const implementation = {
  GetPrice(call, callback) {
    const { symbol } = call.request;
    if (!prices.has(symbol)) {
      callback({ code: grpc.status.NOT_FOUND, details: `No price for '${symbol}'.` });
      return;
    }
    callback(null, price(symbol));
  },
  SetPrice(call, callback) {
    const { symbol, price: value } = call.request;
    if (!(value > 0)) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'A price is greater than 0.' });
      return;
    }
    prices.set(symbol, value);
    sequence++;
    for (const watcher of watchers) {
      watcher(symbol);
    }
    callback(null, price(symbol));
  },
  WatchPrices(call) {
    const symbols = new Set(call.request.symbols);
    const send = (symbol) => {
      if (symbols.size === 0 || symbols.has(symbol)) {
        call.write(price(symbol));
      }
    };
    for (const symbol of prices.keys()) {
      send(symbol);
    }
    watchers.add(send);
    const leave = () => watchers.delete(send);
    call.on('cancelled', leave);
    call.on('close', leave);
  },
};

const server = new grpc.Server();
server.addService(service, implementation);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(`listening ${port}`);
});
