/**
 * An error in gRPC terms, whatever the transport: REST error bodies and WebSocket `error` frames both carry a
 * google.rpc.Status, and this is it.
 */
export class EdgeError extends Error {
  /** The gRPC status code (1 CANCELLED, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...). */
  readonly code: number;
  /** The google.rpc.Status details, as proto3 JSON (each with an "@type"). */
  readonly details: readonly unknown[];
  /** The HTTP status of a REST call, when the error came from one. */
  readonly httpStatus: number | undefined;
  /** How long the edge asked to wait before trying again (`Retry-After`), in milliseconds, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(code: number, message: string, details: readonly unknown[] = [], httpStatus?: number, retryAfterMs?: number) {
    super(message);
    this.name = "EdgeError";
    this.code = code;
    this.details = details;
    this.httpStatus = httpStatus;
    this.retryAfterMs = retryAfterMs;
  }

  /** Builds an error from a google.rpc.Status JSON object (REST body or WebSocket frame). */
  static fromStatus(status: unknown, httpStatus?: number, retryAfterMs?: number): EdgeError {
    const s = (status ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
    const code = typeof s.code === "number" ? s.code : 2;
    const message = typeof s.message === "string" ? s.message : "Unknown error";
    const details = Array.isArray(s.details) ? s.details : [];
    return new EdgeError(code, message, details, httpStatus, retryAfterMs);
  }
}

/** The gRPC codes this client reacts to itself. */
export const Code = {
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

/** The gRPC code an HTTP status stands for when a body carries no google.rpc.Status (a proxy's own error page). */
export function codeOfHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 408:
    case 504:
      return Code.DeadlineExceeded;
    case 429:
      return Code.ResourceExhausted;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    default:
      return status >= 500 ? Code.Internal : Code.Unknown;
  }
}

/** `Retry-After` (seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) {
    return undefined;
  }
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) {
    return seconds * 1000;
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
