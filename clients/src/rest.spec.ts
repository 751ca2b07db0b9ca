import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { buildRestRequest, callRest, isRestMethod } from "./rest.js";
import type { EdgeError } from "./errors.js";
import { TradingService, PlaceOrderRequestSchema, GetPortfolioRequestSchema, OrderSide } from "./gen/trading/v1/trading_pb.js";
import { ChatService, ListMessagesRequestSchema } from "./gen/chat/v1/chat_pb.js";
import { MarketDataService } from "./gen/trading/v1/market_data_pb.js";

test("path variables come from fields and are escaped", () => {
  const request = buildRestRequest(TradingService.method.getPortfolio, create(GetPortfolioRequestSchema, { accountId: "acc/alice" }));
  assert.deepEqual(request, { method: "GET", path: "/v1/accounts/acc%2Falice/portfolio", body: undefined });
});

test("body '*' carries every field not bound to the path, as proto3 JSON", () => {
  const request = buildRestRequest(TradingService.method.placeOrder,
    create(PlaceOrderRequestSchema, { accountId: "acc-alice", symbol: "ACME", side: OrderSide.BUY, quantity: 5n }));
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/v1/accounts/acc-alice/orders");
  assert.deepEqual(JSON.parse(request.body ?? ""), { symbol: "ACME", side: "ORDER_SIDE_BUY", quantity: "5" });
});

test("GET without body sends the other fields as query parameters", () => {
  const request = buildRestRequest(ChatService.method.listMessages, create(ListMessagesRequestSchema, { room: "lobby", afterSequence: 7n, pageSize: 20 }));
  assert.equal(request.path, "/v1/rooms/lobby/messages?afterSequence=7&pageSize=20");
});

test("only unary methods with an http rule are REST methods", () => {
  assert.equal(isRestMethod(MarketDataService.method.getQuote), true);
  assert.equal(isRestMethod(MarketDataService.method.streamQuotes), false);
});

test("a missing path variable is an INVALID_ARGUMENT error", () => {
  assert.throws(() => buildRestRequest(TradingService.method.getPortfolio, create(GetPortfolioRequestSchema, {})), { code: 3 });
});

/** A fetch that answers `respond`, or — without it — waits until its signal aborts. */
function fakeFetch(respond?: () => Response): typeof fetch & { requests: { url: string; init: RequestInit }[] } {
  const requests: { url: string; init: RequestInit }[] = [];
  const fake = (async (url: URL | string, init: RequestInit = {}) => {
    requests.push({ url: String(url), init });
    if (respond) {
      return respond();
    }
    return new Promise<Response>((_, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
  }) as typeof fetch & { requests: typeof requests };
  fake.requests = requests;
  return fake;
}

const base = { baseUrl: "http://edge.test" };

test("an aborted call fails with 1 CANCELLED, not UNAVAILABLE", async () => {
  const abort = new AbortController();
  const call = callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch: fakeFetch(), signal: abort.signal });
  abort.abort();
  await assert.rejects(call, { code: 1 });
});

test("a call past its timeoutMs fails with 4 DEADLINE_EXCEEDED", async () => {
  await assert.rejects(callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch: fakeFetch(), timeoutMs: 10 }), { code: 4 });
});

test("headers go with the request, the token as a bearer", async () => {
  const fetch = fakeFetch(() => new Response(JSON.stringify({ quote: { symbol: "ACME" } }), { status: 200 }));
  await callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch, token: "t", headers: { "x-request-id": "r1" } });
  const headers = fetch.requests[0]?.init.headers as Record<string, string>;
  assert.equal(headers["x-request-id"], "r1");
  assert.equal(headers["authorization"], "Bearer t");
});

test("a google.rpc.Status error keeps its code and the Retry-After the edge sent", async () => {
  const fetch = fakeFetch(() => new Response(JSON.stringify({ code: 8, message: "slow down", details: [] }), { status: 429, headers: { "retry-after": "3" } }));
  await assert.rejects(callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch }), { code: 8, httpStatus: 429, retryAfterMs: 3000, message: "slow down" });
});

test("an error body that is not a status (a proxy's HTML page) becomes a clear error with the HTTP status's code", async () => {
  const fetch = fakeFetch(() => new Response("<html>Bad Gateway</html>", { status: 502 }));
  await assert.rejects(callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch }), (error: EdgeError) => {
    assert.equal(error.code, 14);
    assert.equal(error.httpStatus, 502);
    assert.match(error.message, /HTTP 502 without a status body: <html>Bad Gateway<\/html>/);
    return true;
  });
});

test("a 200 whose body is not JSON is an INTERNAL error, not a crash", async () => {
  const fetch = fakeFetch(() => new Response("not json", { status: 200 }));
  await assert.rejects(callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch }), { code: 13 });
});
