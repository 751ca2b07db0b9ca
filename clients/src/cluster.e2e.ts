// Driven by tests/EdgeBridge.FunctionalTests/Cluster: many TypeScript clients through the balancer in front of
// several edges, each from its own loopback address (so each is its own client to the edges' per-address limits).
// Every client follows one chat room from its start and some follow an account's order updates; on "report" (a
// line on stdin) it prints, per client, what it received: first and last sequence, count, gaps and duplicates.
import * as readline from "node:readline";
import { WebSocket } from "ws";
import { createEdgeClient, webSocketFromWs } from "./index.js";
import type { EdgeClient } from "./index.js";
import { ChatService } from "../sample/gen/chat/v1/chat_pb.js";
import { TradingService } from "../sample/gen/trading/v1/trading_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: this driver runs from tests/EdgeBridge.FunctionalTests.`);
  }
  return value;
};

const baseUrl = env("EDGEBRIDGE_URL");
const count = Number(env("CLIENTS"));
const room = env("ROOM");
const token = env("TOKEN");
const accountId = env("ACCOUNT_ID");
const ordersEvery = Number(process.env["ORDERS_EVERY"] ?? "10");

class Tally {
  first: bigint | undefined;
  last = 0n;
  count = 0;
  gaps = 0;
  duplicates = 0;

  record(sequence: bigint): void {
    if (this.first !== undefined && sequence <= this.last) {
      this.duplicates++;
      return;
    }
    if (this.first === undefined) {
      this.first = sequence;
    } else if (sequence !== this.last + 1n) {
      this.gaps += Number(sequence - this.last - 1n);
    }
    this.last = sequence;
    this.count++;
  }

  toJSON(): object {
    return { first: this.first?.toString() ?? null, last: this.last.toString(), count: this.count, gaps: this.gaps, duplicates: this.duplicates };
  }
}

interface Follower {
  client: EdgeClient;
  chat: Tally;
  orders: Tally | undefined;
  quotes: number;
  reconnects: number;
  draining: number;
  closes: string[];
  errors: string[];
}

const followers: Follower[] = [];
for (let i = 0; i < count; i++) {
  const localAddress = `127.1.${Math.floor(i / 200)}.${1 + (i % 200)}`;
  class Bound extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols, { localAddress });
    }
  }
  const withOrders = i % ordersEvery === 0;
  const client = createEdgeClient({
    baseUrl,
    webSocket: webSocketFromWs(Bound),
    retry: { initialDelayMs: 100, maxDelayMs: 2_000 },
    ...(withOrders ? { getToken: () => token } : {}),
  });
  const follower: Follower = { client, chat: new Tally(), orders: withOrders ? new Tally() : undefined, quotes: 0, reconnects: 0, draining: 0, closes: [], errors: [] };
  client.on("reconnected", () => follower.reconnects++);
  client.on("draining", () => follower.draining++);
  client.on("reconnecting", (e) => follower.closes.push(`${e.code} ${e.reason}`.trim()));
  client.subscribe(ChatService.method.streamRoom, { room, afterSequence: 0n }, {
    next: (m) => follower.chat.record(m.message?.sequence ?? -1n),
    error: (e) => follower.errors.push(`chat ${e.code} ${e.message}`),
  });
  // Quotes have no cursor: after a move they simply continue.
  client.subscribe(MarketDataService.method.streamQuotes, { symbols: ["ACME"] }, {
    next: () => follower.quotes++,
    error: (e) => follower.errors.push(`quotes ${e.code} ${e.message}`),
  });
  if (follower.orders) {
    const orders = follower.orders;
    client.subscribe(TradingService.method.streamOrderUpdates, { accountId, afterSequence: 0n }, {
      next: (m) => orders.record(m.update?.sequence ?? -1n),
      error: (e) => follower.errors.push(`orders ${e.code} ${e.message}`),
    });
  }
  followers.push(follower);
}

console.log(JSON.stringify({ event: "started", clients: followers.length }));

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (line === "report") {
    console.log(JSON.stringify({
      event: "report",
      clients: followers.map((f) => ({ chat: f.chat, orders: f.orders ?? null, quotes: f.quotes, reconnects: f.reconnects, draining: f.draining, closes: f.closes, errors: f.errors, state: f.client.connectionState })),
    }));
  } else if (line === "close") {
    followers.forEach((f) => f.client.close());
    process.exit(0);
  }
});
input.on("close", () => process.exit(0));
