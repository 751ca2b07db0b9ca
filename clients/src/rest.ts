import { create, fromJson, getOption, hasOption, toJson } from "@bufbuild/protobuf";
import type { DescField, DescMethod, DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { http } from "./gen/google/api/annotations_pb.js";
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

/** Options of a REST call. */
export interface RestCallOptions extends CallOptions {
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
}

/** Whether the method can be called over REST (it has an http rule). */
export function isRestMethod(method: DescMethod): boolean {
  return method.methodKind === "unary" && hasOption(method, http);
}

/**
 * Builds the HTTP request for a unary call from the method's `google.api.http` rule, as grpc-gateway and
 * JSON transcoding map it: path variables from fields, `body: "*"` for the rest, query parameters otherwise.
 */
export function buildRestRequest<I extends DescMessage>(method: DescMethod & { input: I }, request: MessageShape<I>): RestRequest {
  const rule = getOption(method, http);
  const pattern = rule.pattern;
  if (pattern.case === undefined || pattern.case === "custom") {
    throw new Error(`${method.parent.typeName}/${method.name} has no REST mapping`);
  }

  const json = toJson(method.input, request, { alwaysEmitImplicit: false }) as Record<string, unknown>;
  const bound = new Set<string>();
  const path = pattern.value.replace(/\{([a-z0-9_.]+)(=[^}]*)?\}/g, (_, name: string) => {
    const field = fieldByProtoName(method.input, name);
    bound.add(field.jsonName);
    const value = json[field.jsonName];
    if (value === undefined || value === "") {
      throw new EdgeError(3, `${name} is required to call ${method.name}`);
    }
    return encodeURIComponent(String(value));
  });

  const rest = Object.fromEntries(Object.entries(json).filter(([key]) => !bound.has(key)));
  if (rule.body === "*") {
    return { method: pattern.case.toUpperCase(), path, body: JSON.stringify(rest) };
  }

  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(rest)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      query.append(key, typeof item === "object" ? JSON.stringify(item) : String(item));
    }
  }
  const search = query.toString();
  return { method: pattern.case.toUpperCase(), path: search ? `${path}?${search}` : path, body: undefined };
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

  try {
    const doFetch = options.fetch ?? globalThis.fetch;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(new URL(built.path, options.baseUrl), {
        method: built.method,
        headers,
        ...(built.body !== undefined ? { body: built.body } : {}),
        signal: controller.signal,
      });
      text = await response.text();
    } catch (error) {
      throw failure(error);
    }

    const body = parseJson(text);
    if (!response.ok) {
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
    return fromJson(method.output, body as never, { ignoreUnknownFields: true });
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
