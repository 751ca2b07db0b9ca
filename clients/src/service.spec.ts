import { test } from "node:test";
import assert from "node:assert/strict";
import { createEdgeClient } from "./client.js";
import { createServiceClient } from "./service.js";
import { TradingServiceEdge } from "../sample/gen/trading/v1/trading_edge.js";
import { MarketDataServiceEdge } from "../sample/gen/trading/v1/market_data_edge.js";
import { TradingService, OrderSide } from "../sample/gen/trading/v1/trading_pb.js";

test("the generated exposure lists the REST methods and the streams the contract opts in", () => {
  assert.deepEqual(TradingServiceEdge.rest, ["getPortfolio", "placeOrder", "getOrder", "cancelOrder"]);
  assert.deepEqual(TradingServiceEdge.streams, ["streamOrderUpdates"]);
  assert.deepEqual(MarketDataServiceEdge.streams, ["streamQuotes"]);
});

test("a service client calls REST methods through their http rules, typed by the contract", async () => {
  const requests: string[] = [];
  const fetch = (async (url: URL | string, init: RequestInit = {}) => {
    requests.push(`${init.method} ${String(url)} ${String(init.body ?? "")}`);
    return new Response(JSON.stringify({ order: { orderId: "o1", quantity: "2" } }), { status: 200 });
  }) as typeof globalThis.fetch;
  const trading = createServiceClient(TradingServiceEdge, createEdgeClient({ baseUrl: "http://edge.test", fetch }));

  const response = await trading.placeOrder({ accountId: "acc", symbol: "ACME", side: OrderSide.BUY, quantity: 2n });

  assert.equal(response.order?.quantity, 2n);
  assert.deepEqual(requests, ['POST http://edge.test/v1/accounts/acc/orders {"symbol":"ACME","side":"ORDER_SIDE_BUY","quantity":"2"}']);
  assert.equal(typeof trading.streamOrderUpdates.subscribe, "function");
});

test("a method the exposure leaves out is not there — and does not compile", () => {
  // As the generator would write it for a contract whose PlaceOrder had no http rule.
  const partial = { service: TradingService, rest: ["getPortfolio"], streams: [] } as const;
  const trading = createServiceClient(partial, createEdgeClient({ baseUrl: "http://edge.test" }));

  // @ts-expect-error placeOrder is not exposed.
  assert.equal(trading.placeOrder, undefined);
  // @ts-expect-error streamOrderUpdates is not exposed either.
  assert.equal(trading.streamOrderUpdates, undefined);
  assert.equal(typeof trading.getPortfolio, "function");
});
