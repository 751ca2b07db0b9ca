// Clients people already use, unchanged, against a real stack started by tests/EdgeBridge.FunctionalTests
// (EDGEBRIDGE_URL points at its edge): connect-es over HTTP/1.1 with the Connect protocol (JSON, binary, GET) and
// gRPC-Web. No EdgeBridge code: only the descriptors protoc-gen-es wrote from the contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createConnectTransport as createWebConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "../sample/gen/trading/v1/auth_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";
import { OrderSide, OrderStatus, TradingService } from "../sample/gen/trading/v1/trading_pb.js";

const baseUrl = process.env["EDGEBRIDGE_URL"];
if (!baseUrl) {
  throw new Error("EDGEBRIDGE_URL is not set: these tests run from tests/EdgeBridge.FunctionalTests against a real stack.");
}

// The token a real application keeps after logging in, sent by an interceptor as connect-es documents it.
function withToken(token: () => string | undefined): Interceptor {
  return (next) => async (request) => {
    const value = token();
    if (value) {
      request.header.set("Authorization", `Bearer ${value}`);
    }
    return next(request);
  };
}

const transports: Record<string, (interceptors: Interceptor[]) => Transport> = {
  "Connect, JSON": (interceptors) => createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }),
  "Connect, binary": (interceptors) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors }),
  "gRPC-Web": (interceptors) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
};

for (const [name, create] of Object.entries(transports)) {
  test(`${name}: log in, read a quote and the portfolio, place an order`, async () => {
    let token: string | undefined;
    const transport = create([withToken(() => token)]);
    const auth = createClient(AuthService, transport);
    const market = createClient(MarketDataService, transport);
    const trading = createClient(TradingService, transport);

    const login = await auth.login({ username: "alice", password: "wonderland" });
    token = login.accessToken;
    const quote = await market.getQuote({ symbol: "ACME" });
    const order = await trading.placeOrder({ accountId: login.accountId, symbol: "ACME", side: OrderSide.BUY, quantity: 1n, clientOrderId: crypto.randomUUID() });
    const portfolio = await trading.getPortfolio({ accountId: login.accountId });

    assert.equal(quote.quote?.symbol, "ACME");
    assert.equal(order.order?.status, OrderStatus.FILLED);
    assert.ok(portfolio.portfolio?.positions.some((p) => p.symbol === "ACME"));
  });

  test(`${name}: a stream of quotes, then cancelled`, async () => {
    const market = createClient(MarketDataService, create([]));
    const abort = new AbortController();
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const message of market.streamQuotes({ symbols: ["HOOL", "WAYN"] }, { signal: abort.signal })) {
        seen.push(message.quote?.symbol ?? "");
        if (seen.includes("HOOL") && seen.includes("WAYN")) {
          abort.abort();
        }
      }
    }, (error: unknown) => ConnectError.from(error).code === Code.Canceled);
    assert.ok(seen.includes("HOOL") && seen.includes("WAYN"));
  });

  test(`${name}: each error keeps its code`, async () => {
    const market = createClient(MarketDataService, create([]));
    const trading = createClient(TradingService, create([withToken(() => "not.a.token")]));

    await assert.rejects(market.getQuote({ symbol: "NOPE" }), (error: unknown) => {
      const connect = ConnectError.from(error);
      return connect.code === Code.NotFound && connect.details.some((d) => "type" in d && d.type === "google.rpc.ResourceInfo");
    });
    await assert.rejects(trading.getPortfolio({ accountId: "acc-alice" }), (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated);
    await assert.rejects(createClient(TradingService, create([])).streamOrderUpdates({ accountId: "acc-alice" })[Symbol.asyncIterator]().next(),
      (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated);
  });
}

test("Connect GET: side-effect-free methods go as cacheable GETs", async () => {
  // connect-web's transport (fetch, as in a browser) turns the call into a GET after the interceptors ran: the
  // requests are seen where they leave.
  const sent: string[] = [];
  const transport = createWebConnectTransport({
    baseUrl,
    useHttpGet: true,
    fetch: (input, init) => {
      sent.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
  });

  const quote = await createClient(MarketDataService, transport).getQuote({ symbol: "ACME" });
  const symbols = await createClient(MarketDataService, transport).listSymbols({});
  await assert.rejects(createClient(AuthService, transport).login({ username: "nobody-connect-get", password: "wrong" }),
    (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated);

  assert.equal(quote.quote?.symbol, "ACME");
  assert.ok(symbols.symbols.length > 0);
  assert.deepEqual(sent, [
    "GET /trading.v1.MarketDataService/GetQuote",
    "GET /trading.v1.MarketDataService/ListSymbols",
    "POST /trading.v1.AuthService/Login",
  ]);
});
