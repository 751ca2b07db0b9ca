import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer, WebSocket } from "ws";
import type { AddressInfo } from "node:net";
import { EdgeSocket, webSocketFromWs } from "./socket.js";
import type { ConnectionState, SocketEvents, WebSocketLike } from "./socket.js";
import { fullJitter } from "./retry.js";
import { TradingService } from "../sample/gen/trading/v1/trading_pb.js";
import type { EdgeError } from "./errors.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChatService, StreamRoomResponseSchema } from "../sample/gen/chat/v1/chat_pb.js";
import { NextFrameSchema } from "./gen/edgebridge/v1/frames_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";

/** A scripted edge: records frames and lets the test answer. */
class FakeEdge {
  readonly server: WebSocketServer;
  readonly frames: Record<string, unknown>[] = [];
  sockets: WebSocket[] = [];
  private waiters: (() => void)[] = [];

  /** Decides how `init` is answered: by default `ack`; a test may close the socket instead. */
  onInit: (socket: WebSocket, frame: Record<string, unknown>) => void = (socket) => socket.send(JSON.stringify({ type: "ack", connectionId: `c${this.sockets.length}`, limits: {} }));

  private constructor(refuse?: { status: number; headers?: Record<string, string> }) {
    this.server = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (protocols) => (protocols.has("edgebridge.v1") ? "edgebridge.v1" : false),
      ...(refuse ? { verifyClient: (_: unknown, done: (ok: boolean, status?: number, message?: string, headers?: Record<string, string>) => void) => done(false, refuse.status, "refused", refuse.headers) } : {}),
    });
    this.server.on("connection", (socket) => {
      this.sockets.push(socket);
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Record<string, unknown>;
        this.frames.push(frame);
        if (frame["type"] === "init") {
          this.onInit(socket, frame);
        }
        this.waiters.splice(0).forEach((wake) => wake());
      });
    });
  }

  /** An edge that refuses every upgrade with `refuse.status` (and its headers) when given. */
  static async start(refuse?: { status: number; headers?: Record<string, string> }): Promise<FakeEdge> {
    const edge = new FakeEdge(refuse);
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
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "t1", retry: { initialDelayMs: 10, maxDelayMs: 50 } });
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
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => token, retry: { initialDelayMs: 10 } });
    const states: ConnectionState[] = [];
    socket.onStateChange((state) => states.push(state));
    socket.subscribe(MarketDataService.method.streamQuotes, { symbols: ["ACME"] }, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    token = "second";
    await socket.refreshToken();
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
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
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
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, encoding: "proto", retry: { initialDelayMs: 10, maxDelayMs: 50 } });
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

/** Records a socket's events in order. */
function record(socket: EdgeSocket): { name: keyof SocketEvents; event: unknown }[] {
  const events: { name: keyof SocketEvents; event: unknown }[] = [];
  for (const name of ["connecting", "connected", "reconnecting", "reconnected", "closed", "signedOut", "tokenError"] as const) {
    socket.on(name, (event) => events.push({ name, event }));
  }
  return events;
}

/** An unsigned JWT with the given claims: the client reads exp and sub, the edge (not here) verifies. */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

for (const [code, grpc] of [[4400, 3], [4408, 4], [4429, 8], [1008, 7], [1009, 8]] as const) {
  test(`a ${code} close is terminal: no reconnect, subscriptions end with ${grpc}, 'closed' says why`, async () => {
    const edge = await FakeEdge.start();
    try {
      const socket = new EdgeSocket({ url: edge.url, webSocket: factory, retry: { nextDelay: () => 0 } });
      const events = record(socket);
      const errors: EdgeError[] = [];
      socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {}, error: (e) => errors.push(e) });
      await edge.waitFor((f) => subscribes(f).length === 1);

      edge.sockets[0]?.close(code, "you did it");
      await until(() => socket.state === "closed");

      assert.deepEqual(errors.map((e) => e.code), [grpc]);
      assert.match(errors[0]?.message ?? "", new RegExp(`${code}: you did it`));
      const closed = events.find((e) => e.name === "closed")?.event as { code: number; reason: string };
      assert.deepEqual([closed.code, closed.reason], [code, "you did it"]);
      assert.equal(events.filter((e) => e.name === "reconnecting").length, 0);
      assert.equal(edge.sockets.length, 1);
    } finally {
      await edge.close();
    }
  });
}

test("a refused handshake (403) stops at once with PERMISSION_DENIED; the status comes from webSocketFromWs", async () => {
  const edge = await FakeEdge.start({ status: 403 });
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: webSocketFromWs(WebSocket), retry: { nextDelay: () => 0 } });
    const events = record(socket);
    const errors: number[] = [];
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {}, error: (e) => errors.push(e.code) });

    await until(() => socket.state === "closed");

    assert.deepEqual(errors, [7]);
    assert.equal(events.filter((e) => e.name === "connecting").length, 1);
  } finally {
    await edge.close();
  }
});

test("a 429 refusal's Retry-After is honoured: the next attempt waits at least that long", async () => {
  const edge = await FakeEdge.start({ status: 429, headers: { "Retry-After": "30" } });
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: webSocketFromWs(WebSocket), retry: { nextDelay: () => 10 } });
    const events = record(socket);
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });

    await until(() => events.some((e) => e.name === "reconnecting"));

    const reconnecting = events.find((e) => e.name === "reconnecting")?.event as SocketEvents["reconnecting"];
    assert.equal(reconnecting.delayMs, 30_000);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("maxAttempts: an edge that cannot be reached is tried that many times, then the socket closes with UNAVAILABLE", async () => {
  const edge = await FakeEdge.start();
  const url = edge.url;
  await edge.close();
  const socket = new EdgeSocket({ url, webSocket: factory, retry: { maxAttempts: 2, nextDelay: () => 1 } });
  const events = record(socket);
  const errors: number[] = [];
  socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {}, error: (e) => errors.push(e.code) });

  await until(() => socket.state === "closed");

  assert.deepEqual(events.map((e) => e.name), ["connecting", "reconnecting", "connecting", "reconnecting", "connecting", "closed"]);
  assert.deepEqual(errors, [14]);
});

test("full jitter: any delay from zero to the exponential ceiling", (t) => {
  t.mock.method(Math, "random", () => 0);
  assert.equal(fullJitter(3, 100, 10_000), 0);
  t.mock.method(Math, "random", () => 0.999999);
  assert.equal(fullJitter(3, 100, 10_000), 800);
  assert.equal(fullJitter(20, 100, 10_000), 10_000);
});

test("events: connecting, connected, then reconnecting with the close code and reconnected", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, retry: { nextDelay: () => 1 } });
    const events = record(socket);
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    edge.sockets[0]?.close(1001, "edge shutting down");
    await edge.waitFor((f) => subscribes(f).length === 2);
    await until(() => events.some((e) => e.name === "reconnected"));

    assert.deepEqual(events.map((e) => e.name), ["connecting", "connected", "reconnecting", "connecting", "reconnected"]);
    assert.deepEqual(events[2]?.event, { attempt: 0, delayMs: 1, code: 1001, reason: "edge shutting down" });
    socket.close();
  } finally {
    await edge.close();
  }
});

test("an aborted subscription ends with 1 CANCELLED and is unsubscribed; a deadline ends one with 4", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory });
    const abort = new AbortController();
    const errors: number[] = [];
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {}, error: (e) => errors.push(e.code) }, { signal: abort.signal });
    socket.subscribe(ChatService.method.streamRoom, { room: "r" }, { next: () => {}, error: (e) => errors.push(e.code) }, { timeoutMs: 20 });
    await edge.waitFor((f) => subscribes(f).length === 2);

    abort.abort();
    await edge.waitFor((f) => f.filter((x) => x["type"] === "unsubscribe").length === 2);

    assert.deepEqual(errors.sort(), [1, 4]);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("close() completes every subscription and ends every for-await loop", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory });
    let completed = 0;
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {}, complete: () => completed++ });
    const loop = (async () => {
      let count = 0;
      for await (const _ of socket.stream(ChatService.method.streamRoom, { room: "r" })) {
        count++;
      }
      return count;
    })();
    await edge.waitFor((f) => subscribes(f).length === 2);

    socket.close();

    assert.equal(await loop, 0);
    assert.equal(completed, 1);
  } finally {
    await edge.close();
  }
});

test("stream() buffers at most its limit: a drop-oldest stream keeps the newest and counts what it dropped", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory });
    const quotes = socket.stream(MarketDataService.method.streamQuotes, {}, { limit: 2 });
    const iterator = quotes[Symbol.asyncIterator]();
    const first = iterator.next();
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];
    const quote = (sequence: number) => ({ type: "next", id, message: { quote: { symbol: "ACME", sequence: String(sequence) } } });

    edge.send(quote(1));
    assert.equal((await first).value?.quote?.sequence, 1n);
    // The edge dropped two before the 5th; the loop is not reading, so 4 is dropped here too.
    edge.send(quote(2));
    edge.send(quote(3));
    edge.send({ ...quote(5), dropped: 1 });
    await until(() => quotes.dropped === 2);

    assert.deepEqual([(await iterator.next()).value?.quote?.sequence, (await iterator.next()).value?.quote?.sequence], [3n, 5n]);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("stream() on a stream that ends slow consumers: falling a limit behind ends the loop with 8", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory });
    const messages = socket.stream(ChatService.method.streamRoom, { room: "r" }, { limit: 2 });
    const iterator = messages[Symbol.asyncIterator]();
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];
    // Nobody reads: the third message finds the buffer full.
    for (const sequence of [1, 2, 3]) {
      edge.send({ type: "next", id, message: { message: { room: "r", sequence: String(sequence) } } });
    }
    await edge.waitFor((f) => f.some((x) => x["type"] === "unsubscribe"));

    // What was buffered is still delivered, then the loop ends with 8 — nothing is lost silently.
    assert.equal((await iterator.next()).value?.message?.sequence, 1n);
    assert.equal((await iterator.next()).value?.message?.sequence, 2n);
    await assert.rejects(iterator.next(), { code: 8 });
    socket.close();
  } finally {
    await edge.close();
  }
});

test("the cursor comes from the contract: order updates resume from update.sequence after RESOURCE_EXHAUSTED", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, retry: { nextDelay: () => 1 } });
    const seen: bigint[] = [];
    const resumed: unknown[] = [];
    const subscription = socket.subscribe(TradingService.method.streamOrderUpdates, { accountId: "acc" }, {
      next: (m) => seen.push(m.update?.sequence ?? -1n),
      resumed: (cursor) => resumed.push(cursor),
    });
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];
    edge.send({ type: "next", id, message: { update: { sequence: "41", order: { orderId: "o" } } } });
    edge.send({ type: "next", id, message: { update: { sequence: "42", order: { orderId: "o" } } } });
    await until(() => seen.length === 2);

    edge.send({ type: "error", id, status: { code: 8, message: "fell behind" } });
    await edge.waitFor((f) => subscribes(f).length === 2);

    assert.deepEqual(subscribes(edge.frames)[1]?.["request"], { accountId: "acc", afterSequence: "42" });
    assert.deepEqual(resumed, [42n]);
    assert.equal(subscription.cursor, 42n);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("tokens: getToken() is asked again before the token expires, and the new one goes in an auth frame", async () => {
  const edge = await FakeEdge.start();
  try {
    const now = Math.floor(Date.now() / 1000);
    const tokens = [jwt({ sub: "alice", iat: now, exp: now + 2 }), jwt({ sub: "alice", iat: now, exp: now + 3600 })];
    let asked = 0;
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: async () => tokens[Math.min(asked++, 1)] });
    socket.subscribe(TradingService.method.streamOrderUpdates, { accountId: "acc" }, { next: () => {} });

    await edge.waitFor((f) => f.some((x) => x["type"] === "auth"));

    assert.equal(edge.frames.find((f) => f["type"] === "init")?.["token"], tokens[0]);
    assert.equal(edge.frames.find((f) => f["type"] === "auth")?.["token"], tokens[1]);
    assert.equal(edge.sockets.length, 1);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("tokens: another user's token reconnects the socket with it instead of an auth frame", async () => {
  const edge = await FakeEdge.start();
  try {
    let token = jwt({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 3600 });
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => token });
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    token = jwt({ sub: "bob", exp: Math.floor(Date.now() / 1000) + 3600 });
    await socket.refreshToken();
    await edge.waitFor((f) => subscribes(f).length === 2);

    const inits = edge.frames.filter((f) => f["type"] === "init").map((f) => f["token"]);
    assert.deepEqual(inits, [jwt({ sub: "alice", exp: JSON.parse(Buffer.from(String(inits[0]).split(".")[1] ?? "", "base64url").toString()).exp }), token]);
    assert.equal(edge.frames.filter((f) => f["type"] === "auth").length, 0);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("tokens: a refused token at init is asked for once more; refused again, the user is signed out and public streams go on", async () => {
  const edge = await FakeEdge.start();
  try {
    edge.onInit = (socket, frame) => frame["token"] === undefined
      ? socket.send(JSON.stringify({ type: "ack", connectionId: "anonymous", limits: {} }))
      : socket.close(4401, "token expired");
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "expired", retry: { nextDelay: () => 1 } });
    const events = record(socket);
    const errors: number[] = [];
    socket.subscribe(TradingService.method.streamOrderUpdates, { accountId: "acc" }, { next: () => {}, error: (e) => errors.push(e.code) });
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });

    await edge.waitFor((f) => subscribes(f).length === 1);

    assert.deepEqual(edge.frames.filter((f) => f["type"] === "init").map((f) => f["token"]), ["expired", "expired", undefined]);
    assert.equal(subscribes(edge.frames)[0]?.["method"], "trading.v1.MarketDataService/StreamQuotes");
    assert.deepEqual(errors, [16]);
    assert.equal(events.filter((e) => e.name === "signedOut").length, 1);
    assert.equal(socket.state, "open");
    socket.close();
  } finally {
    await edge.close();
  }
});

test("tokens: a getToken() that throws is reported and asked again after a backoff, not in a tight loop", async () => {
  const edge = await FakeEdge.start();
  try {
    let calls = 0;
    const socket = new EdgeSocket({
      url: edge.url,
      webSocket: factory,
      getToken: () => {
        if (++calls <= 2) {
          throw new Error("refresh endpoint down");
        }
        return "t";
      },
      retry: { nextDelay: (attempt) => 5 * (attempt + 1) },
    });
    const events = record(socket);
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });

    await edge.waitFor((f) => subscribes(f).length === 1);

    assert.equal(events.filter((e) => e.name === "tokenError").length, 2);
    assert.deepEqual(events.filter((e) => e.name === "reconnecting").map((e) => (e.event as SocketEvents["reconnecting"]).delayMs), [5, 10]);
    assert.equal(edge.frames.find((f) => f["type"] === "init")?.["token"], "t");
    socket.close();
  } finally {
    await edge.close();
  }
});

test("an id-less UNAUTHENTICATED error (the auth frame's token refused) is reported, the connection goes on", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "t", retry: { nextDelay: () => 60_000 } });
    const events = record(socket);
    socket.subscribe(MarketDataService.method.streamQuotes, {}, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 1);

    edge.send({ type: "error", status: { code: 16, message: "The token was rejected." } });
    await until(() => events.some((e) => e.name === "tokenError"));

    assert.equal(socket.state, "open");
    assert.equal(edge.sockets.length, 1);
    socket.close();
  } finally {
    await edge.close();
  }
});

test("headers ride on the subscribe frame as metadata, again on every resubscribe; none, no metadata", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "t1", retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    socket.subscribe(ChatService.method.streamRoom, { room: "lobby" }, { next: () => {} }, { headers: { "x-request-id": "r-1" } });
    socket.subscribe(ChatService.method.streamRoom, { room: "desk" }, { next: () => {} });
    await edge.waitFor((f) => subscribes(f).length === 2);
    assert.deepEqual(subscribes(edge.frames)[0]?.["metadata"], { "x-request-id": "r-1" });
    assert.equal("metadata" in subscribes(edge.frames)[1]!, false);

    edge.sockets.at(-1)?.terminate();
    await edge.waitFor((f) => subscribes(f).length === 4);
    const again = subscribes(edge.frames).slice(2).find((f) => (f["request"] as Record<string, unknown>)["room"] === "lobby");
    assert.deepEqual(again?.["metadata"], { "x-request-id": "r-1" });
    socket.close();
  } finally {
    await edge.close();
  }
});

test("goaway: the socket moves by itself within the drain period, resuming from the cursor, and says it is draining", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "t1", retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    const draining: number[] = [];
    socket.on("draining", (e) => draining.push(e.reconnectWithinMs));
    const seen: bigint[] = [];
    socket.subscribe(ChatService.method.streamRoom, { room: "lobby" }, { next: (m) => seen.push(m.message?.sequence ?? -1n) });
    await edge.waitFor((f) => subscribes(f).length === 1);
    const id = subscribes(edge.frames)[0]?.["id"];
    edge.send({ type: "next", id, message: { message: { room: "lobby", sequence: "7", text: "m" } } });
    await until(() => seen.length === 1);
    const first = edge.sockets.at(-1)!;
    const firstClosed = new Promise<void>((resolve) => first.once("close", () => resolve()));

    edge.send({ type: "goaway", reconnectWithinMs: 200, reason: "draining" });

    await edge.waitFor((f) => subscribes(f).length === 2);
    await firstClosed;
    assert.deepEqual(draining, [200]);
    assert.equal(edge.sockets.length, 2);
    assert.deepEqual(subscribes(edge.frames)[1]?.["request"], { room: "lobby", afterSequence: "7" });
    socket.close();
  } finally {
    await edge.close();
  }
});

test("call: a socket call is answered by its result, an error by its status, and a closed socket fails what waits with 14", async () => {
  const edge = await FakeEdge.start();
  try {
    const socket = new EdgeSocket({ url: edge.url, webSocket: factory, getToken: () => "t1", retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    socket.subscribe(ChatService.method.streamRoom, { room: "lobby" }, { next: () => {} });
    await until(() => socket.state === "open");
    const calls = (frames: Record<string, unknown>[]) => frames.filter((f) => f["type"] === "call");

    const quote = socket.call(MarketDataService.method.getQuote, { symbol: "ACME" });
    await edge.waitFor((f) => calls(f).length === 1);
    const first = calls(edge.frames)[0]!;
    assert.equal(first["method"], "trading.v1.MarketDataService/GetQuote");
    assert.deepEqual(first["request"], { symbol: "ACME" });
    edge.send({ type: "result", id: first["id"], message: { quote: { symbol: "ACME", price: 12.5 } } });
    assert.equal((await quote).quote?.price, 12.5);

    const missing = socket.call(MarketDataService.method.getQuote, { symbol: "NOPE" });
    await edge.waitFor((f) => calls(f).length === 2);
    edge.send({ type: "error", id: calls(edge.frames)[1]!["id"], status: { code: 5, message: "Unknown symbol." } });
    await assert.rejects(missing, (error: EdgeError) => error.code === 5);

    const waiting = socket.call(MarketDataService.method.getQuote, { symbol: "HOOL" });
    await edge.waitFor((f) => calls(f).length === 3);
    edge.sockets.at(-1)?.terminate();
    await assert.rejects(waiting, (error: EdgeError) => error.code === 14);
    socket.close();
  } finally {
    await edge.close();
  }
});
