// What a browser application that already uses connect-es or the grpc-web runtime does against the edge, with no
// EdgeBridge code: bundled by tests/EdgeBridge.FunctionalTests (Pages/RpcClientsInBrowserTests) and run in Chromium.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { GrpcWebClientBase, MethodDescriptor, RpcError } from "grpc-web";
import { AuthService, LoginRequestSchema, LoginResponseSchema } from "./gen/trading/v1/auth_pb.js";
import {
  GetQuoteRequestSchema, GetQuoteResponseSchema, MarketDataService, StreamQuotesRequestSchema, StreamQuotesResponseSchema,
} from "./gen/trading/v1/market_data_pb.js";
import { GetPortfolioRequestSchema, GetPortfolioResponseSchema, OrderSide, TradingService } from "./gen/trading/v1/trading_pb.js";

/** What one client saw, for the test to assert on. */
export interface Outcome {
  quote: string;
  positions: string[];
  orderStatus?: number;
  streamed: string[];
  cancelledWith: string;
  errors: Record<string, number | string>;
}

async function connectEs(transport: (interceptors: Interceptor[]) => Transport): Promise<Outcome> {
  let token: string | undefined;
  const withToken: Interceptor = (next) => (request) => {
    if (token) {
      request.header.set("Authorization", `Bearer ${token}`);
    }
    return next(request);
  };
  const t = transport([withToken]);
  const login = await createClient(AuthService, t).login({ username: "alice", password: "wonderland" });
  token = login.accessToken;
  const market = createClient(MarketDataService, t);
  const trading = createClient(TradingService, t);
  const quote = await market.getQuote({ symbol: "ACME" });
  const order = await trading.placeOrder({ accountId: login.accountId, symbol: "ACME", side: OrderSide.BUY, quantity: 1n, clientOrderId: crypto.randomUUID() });
  const portfolio = await trading.getPortfolio({ accountId: login.accountId });

  const streamed: string[] = [];
  const abort = new AbortController();
  let cancelledWith = "none";
  try {
    for await (const message of market.streamQuotes({ symbols: ["HOOL"] }, { signal: abort.signal })) {
      // A message already read may still come out of the iterator after the abort: only the first two count.
      if (streamed.length < 2) {
        streamed.push(message.quote?.symbol ?? "");
      }
      if (streamed.length === 2) {
        abort.abort();
      }
    }
  } catch (error) {
    cancelledWith = Code[ConnectError.from(error).code] ?? "unknown";
  }

  const errors: Record<string, number | string> = {};
  for (const [name, call] of Object.entries({
    notFound: () => market.getQuote({ symbol: "NOPE" }),
    foreignAccount: () => trading.getPortfolio({ accountId: "acc-bob" }),
    anonymous: () => createClient(TradingService, transport([])).getPortfolio({ accountId: login.accountId }),
  })) {
    try {
      await call();
      errors[name] = "ok";
    } catch (error) {
      errors[name] = Code[ConnectError.from(error).code] ?? "unknown";
    }
  }

  return {
    quote: quote.quote?.symbol ?? "",
    positions: portfolio.portfolio?.positions.map((p) => p.symbol) ?? [],
    ...(order.order ? { orderStatus: order.order.status } : {}),
    streamed,
    cancelledWith,
    errors,
  };
}

// The grpc-web runtime wants a serializer and a deserializer per method: protobuf-es provides both.
function descriptor<I extends DescMessage, O extends DescMessage>(path: string, kind: "unary" | "server_streaming", input: I, output: O) {
  return new MethodDescriptor<MessageInitShape<I>, MessageShape<O>>(path, kind, Object as never, Object as never,
    (request: MessageInitShape<I>) => toBinary(input, create(input, request)), (bytes: Uint8Array) => fromBinary(output, bytes));
}

async function grpcWeb(baseUrl: string, format: "binary" | "text"): Promise<Outcome> {
  const client = new GrpcWebClientBase({ format });
  const login = descriptor("/trading.v1.AuthService/Login", "unary", LoginRequestSchema, LoginResponseSchema);
  const getQuote = descriptor("/trading.v1.MarketDataService/GetQuote", "unary", GetQuoteRequestSchema, GetQuoteResponseSchema);
  const getPortfolio = descriptor("/trading.v1.TradingService/GetPortfolio", "unary", GetPortfolioRequestSchema, GetPortfolioResponseSchema);
  const streamQuotes = descriptor("/trading.v1.MarketDataService/StreamQuotes", "server_streaming", StreamQuotesRequestSchema, StreamQuotesResponseSchema);
  const call = <I, O>(method: MethodDescriptor<I, O>, request: I, metadata: Record<string, string> = {}) =>
    client.unaryCall(baseUrl + method.getName(), request, metadata, method);

  const session = await call(login, { username: "alice", password: "wonderland" });
  const auth = { Authorization: `Bearer ${session.accessToken}` };
  const quote = await call(getQuote, { symbol: "ACME" });
  const portfolio = await call(getPortfolio, { accountId: session.accountId }, auth);

  // The runtime delivers a binary stream only when it ends (its documentation: streaming needs the text format), so
  // the binary stream is bounded by a deadline, which the edge enforces; the text stream is cancelled by the client.
  const streamed = await new Promise<string[]>((resolve, reject) => {
    const seen: string[] = [];
    const metadata = format === "binary" ? { deadline: String(Date.now() + 2000) } : {};
    const stream = client.serverStreaming(baseUrl + streamQuotes.getName(), { symbols: ["HOOL"] }, metadata, streamQuotes);
    stream.on("data", (message) => {
      seen.push(message.quote?.symbol ?? "");
      if (format === "text" && seen.length === 2) {
        stream.cancel();
        resolve(seen.slice(0, 2));
      }
    });
    stream.on("error", (error) => format === "binary" && error.code === 4 ? resolve(seen.slice(0, 2)) : reject(new Error(`stream failed: ${error.code} ${error.message}`)));
  });

  const errors: Record<string, number | string> = {};
  for (const [name, run] of Object.entries({
    notFound: () => call(getQuote, { symbol: "NOPE" }),
    foreignAccount: () => call(getPortfolio, { accountId: "acc-bob" }, auth),
    anonymous: () => call(getPortfolio, { accountId: session.accountId }),
  })) {
    try {
      await run();
      errors[name] = "ok";
    } catch (error) {
      errors[name] = error instanceof RpcError ? error.code : String(error);
    }
  }

  return {
    quote: quote.quote?.symbol ?? "",
    positions: portfolio.portfolio?.positions.map((p) => p.symbol) ?? [],
    streamed,
    cancelledWith: format === "binary" ? "deadline" : "cancel()",
    errors,
  };
}

const baseUrl = location.origin;
Object.assign(globalThis, {
  edgeRpc: {
    connect: () => connectEs((interceptors) => createConnectTransport({ baseUrl, interceptors })),
    connectBinary: () => connectEs((interceptors) => createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors })),
    connectGrpcWeb: () => connectEs((interceptors) => createGrpcWebTransport({ baseUrl, interceptors })),
    grpcWeb: (format: "binary" | "text") => grpcWeb(baseUrl, format),
  },
});
