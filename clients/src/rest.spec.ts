import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { buildRestRequest, isRestMethod } from "./rest.js";
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
