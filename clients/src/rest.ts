import { create, fromJson, getOption, hasOption, toJson } from "@bufbuild/protobuf";
import type { DescField, DescMethod, DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { http } from "./gen/google/api/annotations_pb.js";
import type { HttpRule } from "./gen/google/api/http_pb.js";
import { Code, EdgeError, codeOfHttpStatus, parseRetryAfter } from "./errors.js";

/** A unary method of the contract that has a `google.api.http` rule. */
export type UnaryMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = DescMethod & {
  methodKind: "unary";
  input: I;
  output: O;
};

/** Per-call options: cancellation, a deadline, extra headers. */
export interface CallOptions {
  /** Cancels the call: it fails with 1 CANCELLED. */
  signal?: AbortSignal;
  /** Fails the call with 4 DEADLINE_EXCEEDED after this long. */
  timeoutMs?: number;
  /** Extra request headers (e.g. an idempotency or tracing header). */
  headers?: Record<string, string>;
}

/** Bodies of GET responses by URL with their `ETag`, for `If-None-Match`. */
export interface EtagCache {
  get(url: string): { etag: string; text: string } | undefined;
  set(url: string, entry: { etag: string; text: string }): void;
}

/** An {@link EtagCache} in memory that keeps the `maxEntries` most recently used responses. */
export function createEtagCache(maxEntries = 256): EtagCache {
  const entries = new Map<string, { etag: string; text: string }>();
  return {
    get(url) {
      const entry = entries.get(url);
      if (entry) {
        // Map order is insertion order: re-inserting marks it the most recently used.
        entries.delete(url);
        entries.set(url, entry);
      }
      return entry;
    },
    set(url, entry) {
      entries.delete(url);
      entries.set(url, entry);
      if (entries.size > maxEntries) {
        entries.delete(entries.keys().next().value as string);
      }
    },
  };
}

/** Options of a REST call. */
export interface RestCallOptions extends CallOptions {
  /** Revalidates GET responses with `If-None-Match` and serves a 304 from here. */
  etags?: EtagCache;
  /** Base URL of the edge, e.g. "https://edge.example.com". */
  baseUrl: string;
  /** Bearer token sent as `Authorization`, if any. */
  token?: string | undefined;
  /** The fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

/** An HTTP request built from a method's http rule: verb, path with bound variables, query, body. */
export interface RestRequest {
  method: string;
  path: string;
  body: string | undefined;
  /** The rule's `response_body`: the response field the HTTP body is, when not the whole response. */
  responseBody?: string;
}

/** Whether the method can be called over REST (it has an http rule). */
export function isRestMethod(method: DescMethod): boolean {
  return method.methodKind === "unary" && hasOption(method, http);
}

/**
 * Builds the HTTP request for a unary call from the method's `google.api.http` rule, as grpc-gateway and
 * JSON transcoding map it: path variables from (nested) fields — multi-segment ones (`{name=shelves/*}`) keep their
 * slashes — the `body` field or `*`, and query parameters (nested fields dotted) for the rest. Of the rule and its
 * `additional_bindings`, the first whose path variables the request fills is used.
 */
export function buildRestRequest<I extends DescMessage>(method: DescMethod & { input: I }, request: MessageShape<I>): RestRequest {
  const rule = getOption(method, http);
  const json = toJson(method.input, request, { alwaysEmitImplicit: false }) as Record<string, unknown>;
  let unbound: EdgeError | undefined;
  for (const binding of [rule, ...rule.additionalBindings]) {
    const built = fromRule(method, binding, json);
    if (built instanceof EdgeError) {
      unbound ??= built;
      continue;
    }
    return built;
  }
  throw unbound ?? new Error(`${method.parent.typeName}/${method.name} has no REST mapping`);
}

function fromRule(method: DescMethod, rule: HttpRule, json: Record<string, unknown>): RestRequest | EdgeError {
  const pattern = rule.pattern;
  if (pattern.case === undefined) {
    throw new Error(`${method.parent.typeName}/${method.name} has no REST mapping`);
  }
  const [verb, template] = pattern.case === "custom" ? [pattern.value.kind, pattern.value.path] : [pattern.case.toUpperCase(), pattern.value];

  const bound: string[][] = [];
  let missing: string | undefined;
  const path = template.replace(/\{([A-Za-z0-9_.]+)(?:=([^}]*))?\}/g, (_, name: string, segments: string | undefined) => {
    const jsonPath = jsonPathOf(method.input, name);
    bound.push(jsonPath);
    const value = valueAt(json, jsonPath);
    if (value === undefined || value === "") {
      missing ??= name;
      return "";
    }
    // `{name=shelves/*/books/*}` binds a value with slashes: each segment is escaped, the slashes stay.
    const multiSegment = segments !== undefined && (segments.includes("/") || segments === "**");
    return multiSegment ? String(value).split("/").map(encodeURIComponent).join("/") : encodeURIComponent(String(value));
  });
  if (missing !== undefined) {
    return new EdgeError(Code.InvalidArgument, `${missing} is required to call ${method.name}`);
  }

  const rest = without(json, bound);
  const responseBody = rule.responseBody ? { responseBody: rule.responseBody } : {};
  if (rule.body === "*") {
    return { method: verb, path, body: JSON.stringify(rest), ...responseBody };
  }
  let body: string | undefined;
  if (rule.body) {
    // The body field, less what the path already carries (`{book.name}` with `body: "book"`).
    const field = jsonPathOf(method.input, rule.body);
    body = JSON.stringify(valueAt(rest, field) ?? {});
    bound.push(field);
  }
  const search = query(without(json, bound)).toString();
  return { method: verb, path: search ? `${path}?${search}` : path, body, ...responseBody };
}

/** Query parameters of the fields left over, nested messages as dotted names (grpc-gateway's form). */
function query(fields: Record<string, unknown>, prefix = "", into = new URLSearchParams()): URLSearchParams {
  for (const [key, value] of Object.entries(fields)) {
    const name = prefix + key;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      query(value as Record<string, unknown>, `${name}.`, into);
      continue;
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      into.append(name, typeof item === "object" ? JSON.stringify(item) : String(item));
    }
  }
  return into;
}

/** The proto3 JSON path of a dotted field path of proto names (`order.order_id` → `["order", "orderId"]`). */
function jsonPathOf(message: DescMessage, path: string): string[] {
  const names: string[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path.split(".")) {
    if (!current) {
      throw new Error(`${message.typeName}: '${path}' goes through a field that is not a message`);
    }
    const field = fieldByProtoName(current, name);
    names.push(field.jsonName);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return names;
}

function valueAt(json: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = json;
  for (const key of path) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/** A copy of `json` without the fields at `paths` (and without messages left empty by that). */
function without(json: Record<string, unknown>, paths: string[][]): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...json };
  for (const path of paths.filter((p) => p.length > 0)) {
    const [head, ...tail] = path as [string, ...string[]];
    if (tail.length === 0) {
      delete copy[head];
    } else if (copy[head] !== null && typeof copy[head] === "object") {
      const inner = without(copy[head] as Record<string, unknown>, [tail]);
      if (Object.keys(inner).length === 0) {
        delete copy[head];
      } else {
        copy[head] = inner;
      }
    }
  }
  return copy;
}

/** Calls a unary method over REST and returns its typed response; failures throw {@link EdgeError}. */
export async function callRest<I extends DescMessage, O extends DescMessage>(
  method: DescMethod & { input: I; output: O },
  request: MessageInitShape<I>,
  options: RestCallOptions,
): Promise<MessageShape<O>> {
  const built = buildRestRequest(method, create(method.input, request));
  const headers: Record<string, string> = { ...options.headers, accept: "application/json" };
  if (built.body !== undefined) {
    headers["content-type"] = "application/json";
  }
  if (options.token) {
    headers["authorization"] = `Bearer ${options.token}`;
  }

  // One signal for the caller's abort and the deadline; which of them fired decides the code.
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) {
    throw new EdgeError(Code.Cancelled, "Cancelled.");
  }
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const deadline = options.timeoutMs !== undefined ? setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs) : undefined;
  const failure = (error: unknown) => timedOut
    ? new EdgeError(Code.DeadlineExceeded, `${method.name} did not answer within ${options.timeoutMs} ms.`)
    : options.signal?.aborted
      ? new EdgeError(Code.Cancelled, "Cancelled.")
      : new EdgeError(Code.Unavailable, `The edge cannot be reached: ${(error as Error).message}`);

  const url = new URL(built.path, options.baseUrl).toString();
  const cached = built.method === "GET" ? options.etags?.get(url) : undefined;
  if (cached) {
    headers["if-none-match"] = cached.etag;
  }
  try {
    const doFetch = options.fetch ?? globalThis.fetch;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        method: built.method,
        headers,
        ...(built.body !== undefined ? { body: built.body } : {}),
        signal: controller.signal,
      });
      text = await response.text();
    } catch (error) {
      throw failure(error);
    }

    if (response.status === 304 && cached) {
      text = cached.text;
    } else if (built.method === "GET" && response.ok && options.etags && response.headers.get("etag")) {
      options.etags.set(url, { etag: response.headers.get("etag")!, text });
    }

    const body = parseJson(text);
    if (!response.ok && !(response.status === 304 && cached)) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      // A google.rpc.Status from the edge or the backend; anything else (a proxy's HTML page) keeps its HTTP meaning.
      if (body !== undefined && typeof body === "object" && body !== null && typeof (body as { code?: unknown }).code === "number") {
        throw EdgeError.fromStatus(body, response.status, retryAfterMs);
      }
      const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      throw new EdgeError(codeOfHttpStatus(response.status), `HTTP ${response.status} without a status body${excerpt ? `: ${excerpt}` : ""}`, [], response.status, retryAfterMs);
    }
    if (body === undefined) {
      throw new EdgeError(Code.Internal, `${method.name} answered ${response.status} with a body that is not JSON.`, [], response.status);
    }
    // With `response_body` the HTTP body is that one field of the response.
    const message = built.responseBody ? { [jsonPathOf(method.output, built.responseBody)[0] ?? built.responseBody]: body } : body;
    return fromJson(method.output, message as never, { ignoreUnknownFields: true });
  } finally {
    clearTimeout(deadline);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) {
    return {};
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function fieldByProtoName(message: DescMessage, name: string): DescField {
  const field = message.fields.find((f) => f.name === name);
  if (!field) {
    throw new Error(`${message.typeName} has no field ${name}`);
  }
  return field;
}
