import { Code, EdgeError } from "./errors.js";

/** Why the socket closed, as the retry policy sees it. */
export interface CloseReason {
  /** The WebSocket close code (1006 when the connection failed or was never opened). */
  code: number;
  /** The close reason the edge gave, or what went wrong. */
  reason: string;
  /** Whether the edge had accepted the connection (answered `init` with `ack`). */
  wasOpen: boolean;
  /** The HTTP status of a refused handshake, when the WebSocket implementation reports it (see {@link webSocketFromWs}). */
  handshakeStatus?: number;
  /** The refusal's `Retry-After`, in milliseconds, when reported. */
  retryAfterMs?: number;
}

/** When and how often the socket reconnects. */
export interface RetryOptions {
  /** First delay in milliseconds (default 250). */
  initialDelayMs?: number;
  /** Largest delay in milliseconds (default 10000). */
  maxDelayMs?: number;
  /** Attempts in a row without an accepted connection before giving up (default: no limit). */
  maxAttempts?: number;
  /** Delay before attempt `attempt` (0-based); default exponential backoff with full jitter. */
  nextDelay?: (attempt: number) => number;
  /**
   * Whether to reconnect after `reason`; default: not after a terminal close (see {@link isTerminal}) and not after
   * `maxAttempts` attempts in a row.
   */
  shouldRetry?: (reason: CloseReason, attempt: number) => boolean;
}

/** Close codes a reconnect cannot fix: the client broke the protocol or a limit, or the edge refused it for good. */
const terminalCloseCodes = new Set([1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4408, 4429]);

/** Handshake refusals a reconnect cannot fix (400 no subprotocol, 401/403 refused, 404 wrong path). */
const terminalHandshakeStatuses = new Set([400, 401, 403, 404]);

/** True for closes that reconnecting will not fix. */
export function isTerminal(reason: CloseReason): boolean {
  return terminalCloseCodes.has(reason.code) || (reason.handshakeStatus !== undefined && terminalHandshakeStatuses.has(reason.handshakeStatus));
}

/** The retry policy with its defaults filled in. */
export class RetryPolicy {
  private readonly options: RetryOptions;

  constructor(options: RetryOptions = {}) {
    this.options = options;
  }

  shouldRetry(reason: CloseReason, attempt: number): boolean {
    if (this.options.shouldRetry) {
      return this.options.shouldRetry(reason, attempt);
    }
    return !isTerminal(reason) && attempt < (this.options.maxAttempts ?? Number.POSITIVE_INFINITY);
  }

  /** The delay before attempt `attempt`; a `Retry-After` the edge gave wins when it is longer. */
  delay(attempt: number, retryAfterMs?: number): number {
    const computed = this.options.nextDelay ? this.options.nextDelay(attempt) : fullJitter(attempt, this.options.initialDelayMs ?? 250, this.options.maxDelayMs ?? 10_000);
    return Math.max(computed, retryAfterMs ?? 0);
  }
}

/**
 * Exponential backoff with full jitter (AWS's "full jitter"): a uniformly random delay below the exponential
 * ceiling, so that a fleet of clients reconnecting after an edge restart spreads out instead of stampeding.
 */
export function fullJitter(attempt: number, initialDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(Math.random() * ceiling);
}

/** The gRPC status a subscription ends with when its socket closes for good with `reason`. */
export function closeError(reason: CloseReason): EdgeError {
  const code = (() => {
    switch (reason.code) {
      case 4401:
        return Code.Unauthenticated;
      case 4400:
      case 1002:
      case 1003:
      case 1007:
        return Code.InvalidArgument;
      case 4408:
        return Code.DeadlineExceeded;
      case 4429:
      case 1009:
        return Code.ResourceExhausted;
      case 1008:
        return Code.PermissionDenied;
    }
    switch (reason.handshakeStatus) {
      case 400:
      case 404:
        return Code.InvalidArgument;
      case 401:
        return Code.Unauthenticated;
      case 403:
        return Code.PermissionDenied;
      case 429:
        return Code.ResourceExhausted;
    }
    return Code.Unavailable;
  })();
  const what = reason.handshakeStatus !== undefined ? `the edge refused the WebSocket (HTTP ${reason.handshakeStatus})` : `the WebSocket closed with ${reason.code}`;
  return new EdgeError(code, reason.reason ? `${what}: ${reason.reason}` : what);
}
