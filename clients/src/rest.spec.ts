import { test } from "node:test";
import assert from "node:assert/strict";
import { create, createFileRegistry, setExtension } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { file_google_api_annotations, http } from "./gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "./gen/google/api/http_pb.js";
import { buildRestRequest, callRest, createEtagCache, isRestMethod } from "./rest.js";
import type { EdgeError } from "./errors.js";
import { TradingService, PlaceOrderRequestSchema, GetPortfolioRequestSchema, OrderSide } from "../sample/gen/trading/v1/trading_pb.js";
import { ChatService, ListMessagesRequestSchema } from "../sample/gen/chat/v1/chat_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";

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

// A contract with the http rules the sample does not use, built as protoc would describe it.
const library = (() => {
  const options = (rule: Parameters<typeof create<typeof HttpRuleSchema>>[1]) => {
    const value = create(MethodOptionsSchema);
    setExtension(value, http, create(HttpRuleSchema, rule));
    return value;
  };
  const field = (name: string, number: number, type: FieldDescriptorProto_Type, extra: object = {}) =>
    ({ name, number, type, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), ...extra });
  const file = create(FileDescriptorProtoSchema, {
    name: "test/library.proto",
    package: "test",
    syntax: "proto3",
    dependency: ["google/api/annotations.proto"],
    messageType: [
      { name: "Book", field: [field("name", 1, FieldDescriptorProto_Type.STRING), field("title", 2, FieldDescriptorProto_Type.STRING)] },
      { name: "Page", field: [field("size", 1, FieldDescriptorProto_Type.INT32), field("token", 2, FieldDescriptorProto_Type.STRING)] },
      {
        name: "UpdateBookRequest",
        field: [
          field("book", 1, FieldDescriptorProto_Type.MESSAGE, { typeName: ".test.Book" }),
          field("update_paths", 2, FieldDescriptorProto_Type.STRING, { label: FieldDescriptorProto_Label.REPEATED }),
          field("page", 3, FieldDescriptorProto_Type.MESSAGE, { typeName: ".test.Page" }),
        ],
      },
      { name: "GetBookRequest", field: [field("name", 1, FieldDescriptorProto_Type.STRING), field("shelf", 2, FieldDescriptorProto_Type.STRING)] },
      { name: "GetBookResponse", field: [field("book", 1, FieldDescriptorProto_Type.MESSAGE, { typeName: ".test.Book" })] },
    ],
    service: [{
      name: "Library",
      method: [
        { name: "UpdateBook", inputType: ".test.UpdateBookRequest", outputType: ".test.Book", options: options({ pattern: { case: "patch", value: "/v1/{book.name=shelves/*/books/*}" }, body: "book" }) },
        {
          name: "GetBook",
          inputType: ".test.GetBookRequest",
          outputType: ".test.GetBookResponse",
          options: options({ pattern: { case: "get", value: "/v1/{name=shelves/*/books/*}" }, responseBody: "book", additionalBindings: [{ pattern: { case: "get", value: "/v1/shelves/{shelf}:first" } }] }),
        },
      ],
    }],
  });
  const registry = createFileRegistry(file, (name) => (name === "google/api/annotations.proto" ? file_google_api_annotations : undefined));
  const service = registry.getService("test.Library")!;
  return { update: service.methods[0]!, get: service.methods[1]! };
})();

test("body: \"field\" sends that field less what the path carries; nested path variables and the rest as dotted query parameters", () => {
  const request = buildRestRequest(library.update, create(library.update.input, {
    book: { name: "shelves/1/books/2", title: "Dune" }, updatePaths: ["title"], page: { size: 5 },
  } as never));
  assert.equal(request.method, "PATCH");
  assert.equal(request.path, "/v1/shelves/1/books/2?updatePaths=title&page.size=5");
  assert.deepEqual(JSON.parse(request.body ?? ""), { title: "Dune" });
});

test("a multi-segment path variable keeps its slashes and escapes each segment", () => {
  const request = buildRestRequest(library.get, create(library.get.input, { name: "shelves/a b/books/c?d" } as never));
  assert.equal(request.path, "/v1/shelves/a%20b/books/c%3Fd");
});

test("additional_bindings: the first binding whose path variables the request fills", () => {
  const request = buildRestRequest(library.get, create(library.get.input, { shelf: "s1" } as never));
  assert.equal(request.path, "/v1/shelves/s1:first");
  assert.throws(() => buildRestRequest(library.get, create(library.get.input, {} as never)), { code: 3 });
});

test("response_body: the HTTP body is that field of the response", async () => {
  const fetch = fakeFetch(() => new Response(JSON.stringify({ name: "shelves/1/books/2", title: "Dune" }), { status: 200 }));
  const response = await callRest(library.get, { name: "shelves/1/books/2" } as never, { ...base, fetch }) as { book?: { title: string } };
  assert.equal(response.book?.title, "Dune");
});

test("an ETag cache revalidates with If-None-Match and answers a 304 from memory", async () => {
  let calls = 0;
  const fetch = fakeFetch(() => ++calls === 1
    ? new Response(JSON.stringify({ quote: { symbol: "ACME", price: 1.5 } }), { status: 200, headers: { etag: "\"v1\"" } })
    : new Response(null, { status: 304, headers: { etag: "\"v1\"" } }));
  const etags = createEtagCache(8);

  const first = await callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch, etags });
  const second = await callRest(MarketDataService.method.getQuote, { symbol: "ACME" }, { ...base, fetch, etags });

  assert.equal((fetch.requests[1]?.init.headers as Record<string, string>)["if-none-match"], "\"v1\"");
  assert.equal(second.quote?.price, 1.5);
  assert.deepEqual(second, first);
});
