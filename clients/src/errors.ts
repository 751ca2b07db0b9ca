/**
 * An error in gRPC terms, whatever the transport: REST error bodies and WebSocket `error` frames both carry a
 * google.rpc.Status, and this is it.
 */
export class EdgeError extends Error {
  /** The gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...). */
  readonly code: number;
  /** The google.rpc.Status details, as proto3 JSON (each with an "@type"). */
  readonly details: readonly unknown[];
  /** The HTTP status of a REST call, when the error came from one. */
  readonly httpStatus: number | undefined;

  constructor(code: number, message: string, details: readonly unknown[] = [], httpStatus?: number) {
    super(message);
    this.name = "EdgeError";
    this.code = code;
    this.details = details;
    this.httpStatus = httpStatus;
  }

  /** Builds an error from a google.rpc.Status JSON object (REST body or WebSocket frame). */
  static fromStatus(status: unknown, httpStatus?: number): EdgeError {
    const s = (status ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
    const code = typeof s.code === "number" ? s.code : 2;
    const message = typeof s.message === "string" ? s.message : "Unknown error";
    const details = Array.isArray(s.details) ? s.details : [];
    return new EdgeError(code, message, details, httpStatus);
  }
}

/** The gRPC codes this client reacts to itself. */
export const Code = {
  InvalidArgument: 3,
  NotFound: 5,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;
