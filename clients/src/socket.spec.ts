import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer, WebSocket } from "ws";
import type { AddressInfo } from "node:net";
import { EdgeSocket } from "./socket.js";
import type { ConnectionState, WebSocketLike } from "./socket.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChatService, StreamRoomResponseSchema } from "./gen/chat/v1/chat_pb.js";
import { NextFrameSchema } from "./gen/edgebridge/v1/frames_pb.js";
import { MarketDataService } from "./gen/trading/v1/market_data_pb.js";

/** A scripted edge: records frames and lets the test answer. */
class FakeEdge {
  readonly server: WebSocketServer;
  readonly frames: Record<string, unknown>[] = [];
  sockets: WebSocket[] = [];
  private waiters: (() => void)[] = [];

  private constructor() {
    this.server = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: (protocols) => (protocols.has("edgebridge.v1") ? "edgebridge.v1" : false) });
    this.server.on("connection", (socket) => {
      this.sockets.push(socket);
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Record<string, unknown>;
        this.frames.push(frame);
        if (frame["type"] === "init") {
          socket.send(JSON.stringify({ type: "ack", connectionId: "c", limits: {} }));
        }
        this.waiters.splice(0).forEach((wake) => wake());
      });
    });
  }

  static async start(): Promise<FakeEdge> {
    const edge = new FakeEdge();
    await new Promise<void>((resolve) => edge.server.once("listening", () => resolve()));
    return edge;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws`;
  }

  async waitFor(predicate: (frames: Record<string, unknown>[]) => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!predicate(this.frames)) {
      if (Date.now() > deadline) {
        throw new Error("timed out; frames: " + JSON.stringify(this.frames));
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  send(frame: object): void {
    this.sockets.at(-1)?.send(JSON.stringify(frame));
  }

  sendBinary(bytes: Uint8Array): void {
    this.sockets.at(-1)?.send(bytes, { binary: true });
  }

  close(): Promise<void> {
    this.sockets.forEach((s) => s.terminate());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits until a condition holds (deadline 10 s): tests wait on conditions, never on the clock. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error("timed out waiting for a condition");
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const factory = (url: string, protocols: string[]) => new WebSocket(url, protocols) as unknown as WebSocketLike;
const subscribes = (frames: Record<string, unknown>[]) => frames.filter((f) => f["type"] === "subscribe");

test("resubscribes after a reconnect from the last sequence, and never delivers a message twice", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, token: () => "t1", backoff: { initialDelayMs: 10, maxDelayMs: 50 } });
    const seen: bigint[] = [];
    socket.subscribe(ChatService.method.streamRoom, { room: "lobby" }, { next: (m) => seen.push(m.message?.sequence ?? -1n) });
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];
    for (const sequence of [1, 2, 3]) {
      edge.send({ type: "next", id, message: { message: { room: "lobby", sequence: String(sequence), text: "m" } } });
    }
    await until(() => seen.length === 3);

    edge.sockets.at(-1)?.terminate();
    await edge.waitFor((f) => subscribes(f).length === 2);
    const resubscribe = subscribes(edge.frames)[1];
    assert.deepEqual(resubscribe?.["request"], { room: "lobby", afterSequence: "3" });
    assert.equal(edge.frames.filter((f) => f["type"] === "init").length, 2);

    // A replayed duplicate is dropped; the next new one is delivered.
    edge.send({ type: "next", id, message: { message: { room: "lobby", sequence: "3", text: "dup" } } });
    edge.send({ type: "next", id, message: { message: { room: "lobby", sequence: "4", text: "m" } } });
    await until(() => seen.includes(4n));
    assert.deepEqual(seen, [1n, 2n, 3n, 4n]);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("reports connection states and sends the token in init and auth frames", async () => {
  const edge = await FakeEdge.start();
  try {
    let token = "first";
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, token: () => token, backoff: { initialDelayMs: 10 } });
    const states: ConnectionState[] = [];
    socket.onStateChange((state) => states.push(state));
    socket.subscribe(MarketDataService.method.streamQuotes, { symbols: ["ACME"] }, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    token = "second";
    socket.refreshToken();
    await edge.waitFor((f) => f.some((x) => x["type"] === "auth"));

    assert.equal(edge.frames.find((f) => f["type"] === "init")?.["token"], "first");
    assert.equal(edge.frames.find((f) => f["type"] === "auth")?.["token"], "second");
    assert.deepEqual(states, ["connecting", "open"]);
    socket.close();
    assert.equal(socket.state, "closed");
  } finally {
    await edge.close();
  }
});

test("errors carry the gRPC code and end the subscription; UNAVAILABLE is retried", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, backoff: { initialDelayMs: 10, maxDelayMs: 20 } });
    const errors: number[] = [];
    socket.subscribe(MarketDataService.method.streamQuotes, { symbols: ["NOPE"] }, { next: () => {}, error: (e) => errors.push(e.code) });
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];

    edge.send({ type: "error", id, status: { code: 14, message: "backend restarting", details: [] } });
    await edge.waitFor((f) => subscribes(f).length === 2);
    edge.send({ type: "error", id, status: { code: 5, message: "Symbol 'NOPE' is not listed.", details: [] } });
    await until(() => errors.length > 0);

    assert.deepEqual(errors, [5]);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("ping is answered with pong", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory });
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    edge.send({ type: "ping" });
    await edge.waitFor((f) => f.some((x) => x["type"] === "pong"));

    socket.close();
  } finally {
    await edge.close();
  }
});

test("proto encoding: asks for it in subscribe, decodes binary next frames and still resumes from the last sequence", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, encoding: "proto", backoff: { initialDelayMs: 10, maxDelayMs: 50 } });
    const seen: string[] = [];
    socket.subscribe(ChatService.method.streamRoom, { room: "lobby" }, { next: (m) => seen.push(`${m.message?.sequence}:${m.message?.text}`) });
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = String(subscribes(edge.frames)[0]?.["id"]);
    assert.equal(subscribes(edge.frames)[0]?.["encoding"], "proto");
    const next = (sequence: bigint, text: string, forId = id) => toBinary(NextFrameSchema, create(NextFrameSchema, {
      id: forId,
      message: toBinary(StreamRoomResponseSchema, create(StreamRoomResponseSchema, { message: { room: "lobby", sequence, text } })),
    }));

    edge.sendBinary(next(1n, "one"));
    edge.sendBinary(next(7n, "not ours", "someone-else"));
    edge.sendBinary(new Uint8Array([0xff, 0xff, 0xff]));
    edge.sendBinary(next(2n, "two"));
    await until(() => seen.length === 2);

    edge.sockets.at(-1)?.terminate();
    await edge.waitFor((f) => subscribes(f).length === 2);
    assert.deepEqual(subscribes(edge.frames)[1]?.["request"], { room: "lobby", afterSequence: "2" });
    edge.sendBinary(next(2n, "dup"));
    edge.sendBinary(next(3n, "three"));
    await until(() => seen.length === 3);
    assert.deepEqual(seen, ["1:one", "2:two", "3:three"]);
    socket.close();
  } finally {
    await edge.close();
  }
});
