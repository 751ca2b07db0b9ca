// A gRPC backend in Node.js (@grpc/grpc-js), for the edge to front with nothing but configuration.
// Usage: node server.cjs <prices.proto> [port] [--reflection] — prints "listening <port>" once it serves on loopback
// (a free port unless one is given); --reflection adds grpc.reflection.v1 and v1alpha (@grpc/reflection).
'use strict';
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoPath, ...rest] = process.argv.slice(2);
const reflection = rest.includes('--reflection');
const port = rest.find((arg) => /^\d+$/.test(arg)) ?? '0';
const definition = loader.loadSync(protoPath, { longs: String, enums: String, defaults: true });
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
// grpc.health.v1.Health/Check, always SERVING, written by hand: the edge's readiness asks it, and it should not show
// up in the reflected contracts (ReflectionService only knows prices.proto).
const passThrough = (value) => value;
server.addService({
  Check: {
    path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
    requestSerialize: passThrough, requestDeserialize: passThrough,
    responseSerialize: passThrough, responseDeserialize: passThrough,
  },
}, { Check: (call, callback) => callback(null, Buffer.from([0x08, 0x01])) });
if (reflection) {
  const { ReflectionService } = require('@grpc/reflection');
  new ReflectionService(definition).addToServer(server);
}
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(`listening ${port}`);
});
