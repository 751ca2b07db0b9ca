// Runs against a real stack started by tests/EdgeBridge.FunctionalTests (EDGEBRIDGE_URL points at its edge).
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { createEdgeClient, EdgeError } from "./index.js";
import type { WebSocketLike } from "./index.js";
import { AuthService } from "../sample/gen/trading/v1/auth_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";
import { TradingService, OrderSide, OrderStatus } from "../sample/gen/trading/v1/trading_pb.js";
import { ChatService } from "../sample/gen/chat/v1/chat_pb.js";

const baseUrl = process.env["EDGEBRIDGE_URL"];
if (!baseUrl) {
  throw new Error("EDGEBRIDGE_URL is not set: these tests run from tests/EdgeBridge.FunctionalTests against a real stack.");
}

const client = (encoding: "json" | "proto" = "json") => createEdgeClient({
  baseUrl,
  webSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
  retry: { initialDelayMs: 50, maxDelayMs: 500 },
  encoding,
});

test("REST: log in, read a quote and the portfolio, place an order", async () => {
  const edge = client();
  const login = await edge.call(AuthService.method.login, { username: "alice", password: "wonderland" });
  edge.setToken(login.accessToken);

  const quote = await edge.call(MarketDataService.method.getQuote, { symbol: "ACME" });
  const order = await edge.call(TradingService.method.placeOrder, { accountId: login.accountId, symbol: "ACME", side: OrderSide.BUY, quantity: 1n });
  const portfolio = await edge.call(TradingService.method.getPortfolio, { accountId: login.accountId });

  assert.equal(quote.quote?.symbol, "ACME");
  assert.equal(order.order?.status, OrderStatus.FILLED);
  assert.ok(portfolio.portfolio?.positions.some((p) => p.symbol === "ACME"));
  edge.close();
});

test("REST errors carry the gRPC code and HTTP status", async () => {
  const edge = client();
  await assert.rejects(edge.call(MarketDataService.method.getQuote, { symbol: "NOPE" }), (error: EdgeError) => error.code === 5 && error.httpStatus === 404);
  await assert.rejects(edge.call(TradingService.method.getPortfolio, { accountId: "acc-bob" }), (error: EdgeError) => error.code === 16);
  edge.close();
});

test("WebSocket: quotes, own order updates and a chat room on one socket", async () => {
  const edge = client();
  const login = await edge.call(AuthService.method.login, { username: "alice", password: "wonderland" });
  edge.setToken(login.accessToken);
  const room = `ts-${Date.now()}`;

  const quotes = edge.stream(MarketDataService.method.streamQuotes, { symbols: ["HOOL"] })[Symbol.asyncIterator]();
  const firstQuote = await quotes.next();
  assert.equal(firstQuote.value?.quote?.symbol, "HOOL");

  const updates: string[] = [];
  const gotFill = new Promise<void>((resolve) => edge.subscribe(TradingService.method.streamOrderUpdates, { accountId: login.accountId }, {
    next: (m) => {
      updates.push(m.update?.order?.orderId ?? "");
      if (m.update?.order?.status === OrderStatus.FILLED && m.update.order.symbol === "WAYN") resolve();
    },
  }));
  const chatMessage = new Promise<string>((resolve) => edge.subscribe(ChatService.method.streamRoom, { room }, { next: (m) => resolve(m.message?.text ?? "") }));

  await edge.call(TradingService.method.placeOrder, { accountId: login.accountId, symbol: "WAYN", side: OrderSide.BUY, quantity: 1n });
  await edge.call(ChatService.method.postMessage, { room, text: "hello from node" });

  await gotFill;
  assert.equal(await chatMessage, "hello from node");
  assert.equal(edge.connectionState, "open");
  await quotes.return?.();
  edge.close();
});

test("WebSocket errors carry the gRPC code", async () => {
  const edge = client();
  const error = await new Promise<EdgeError>((resolve) =>
    edge.subscribe(TradingService.method.streamOrderUpdates, { accountId: "acc-alice" }, { next: () => {}, error: resolve }));
  assert.equal(error.code, 16);
  edge.close();
});

test("WebSocket with proto encoding: the same messages as JSON, decoded from binary frames", async () => {
  const json = client("json");
  const proto = client("proto");
  const login = await json.call(AuthService.method.login, { username: "alice", password: "wonderland" });
  json.setToken(login.accessToken);
  proto.setToken(login.accessToken);
  const room = `ts-proto-${Date.now()}`;
  await json.call(ChatService.method.postMessage, { room, text: "first" });
  await json.call(ChatService.method.postMessage, { room, text: "second" });

  // A room's history replays in order, so both encodings must yield the very same messages.
  const read = async (edge: ReturnType<typeof client>) => {
    const messages: string[] = [];
    for await (const m of edge.stream(ChatService.method.streamRoom, { room })) {
      messages.push(`${m.message?.sequence}:${m.message?.author}:${m.message?.text}`);
      if (messages.length === 2) break;
    }
    return messages;
  };
  const [fromJson, fromProto] = await Promise.all([read(json), read(proto)]);
  assert.deepEqual(fromProto, fromJson);
  assert.equal(fromProto[1]?.endsWith(":alice:second"), true);

  const quote = await proto.stream(MarketDataService.method.streamQuotes, { symbols: ["GLBX"] })[Symbol.asyncIterator]().next();
  assert.equal(quote.value?.quote?.symbol, "GLBX");
  assert.equal(typeof quote.value?.quote?.sequence, "bigint");
  json.close();
  proto.close();
});

test("call(): on an open socket, a method the contract opts in goes over the socket, not over HTTP", async () => {
  const login = await client().call(AuthService.method.login, { username: "alice", password: "wonderland" });
  let requests = 0;
  const edge = createEdgeClient({
    baseUrl,
    webSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
    fetch: (input, init) => {
      requests++;
      return fetch(input, init);
    },
  });
  edge.setToken(login.accessToken);
  const quotes = edge.stream(MarketDataService.method.streamQuotes, { symbols: ["ACME"] })[Symbol.asyncIterator]();
  await quotes.next();

  const order = await edge.call(TradingService.method.placeOrder, { accountId: login.accountId, symbol: "ACME", side: OrderSide.BUY, quantity: 1n, clientOrderId: `socket-${Date.now()}` });
  const quote = await edge.call(MarketDataService.method.getQuote, { symbol: "HOOL" });
  const portfolio = await edge.call(TradingService.method.getPortfolio, { accountId: login.accountId });

  assert.equal(order.order?.status, OrderStatus.FILLED);
  assert.equal(quote.quote?.symbol, "HOOL");
  assert.ok(portfolio.portfolio);
  // PlaceOrder and GetQuote rode the socket; GetPortfolio is not a socket call and went over REST.
  assert.equal(requests, 1);
  edge.close();
});

test("open(): a bidirectional chat between two users, typed, with send, end and async iteration", { timeout: 60_000 }, async () => {
  const room = `ts-bidi-${Date.now()}`;
  const login = async (username: string, password: string) => {
    const edge = client();
    const session = await edge.call(AuthService.method.login, { username, password });
    edge.setToken(session.accessToken);
    return edge;
  };
  const alice = await login("alice", "wonderland");
  const bob = await login("bob", "builder");
  try {
    const aliceTalk = alice.open(ChatService.method.converse);
    const bobTalk = bob.open(ChatService.method.converse);
    // Sent before the socket is open: kept, and sent in order once it is.
    aliceTalk.send({ event: { case: "join", value: { room } } });
    bobTalk.send({ event: { case: "join", value: { room } } });
    const bobReplies = bobTalk[Symbol.asyncIterator]();
    // Bob may join after Alice's typing is passed on (then he never sees it), but her message is stored: he replays
    // the room from its start and sees it either way.
    aliceTalk.send({ event: { case: "typing", value: true } });
    aliceTalk.send({ event: { case: "text", value: "hello from ts" } });
    let seen = await bobReplies.next();
    while (!(seen.value?.event.case === "message" && seen.value.event.value.text === "hello from ts")) {
      if (seen.value?.event.case === "typing") {
        assert.equal(seen.value.event.value.user, "alice");
      }
      seen = await bobReplies.next();
    }
    assert.equal(seen.value.event.case === "message" && seen.value.event.value.author, "alice");

    aliceTalk.end();
    assert.throws(() => aliceTalk.send({ event: { case: "text", value: "late" } }), (error: EdgeError) => error.code === 9);
    const rest: string[] = [];
    for await (const reply of aliceTalk) {
      if (reply.event.case === "message") {
        rest.push(reply.event.value.text);
      }
    }
    assert.deepEqual(rest, ["hello from ts"]);

    // Leaving the loop cancels Bob's stream; a misused one fails with the edge's code.
    await bobReplies.return?.();
    const early = bob.open(ChatService.method.converse);
    early.send({ event: { case: "text", value: "before joining" } });
    await assert.rejects((async () => {
      for await (const _ of early) {
        // Nothing arrives before the error.
      }
    })(), (error: EdgeError) => error.code === 3);
  } finally {
    alice.close();
    bob.close();
  }
});
