import { create, fromBinary, fromJson, toJson } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { cursorOf, isReplay, streamContract } from "./contract.js";
import type { StreamContract } from "./contract.js";
import { Code, EdgeError } from "./errors.js";
import { NextFrameSchema } from "./gen/edgebridge/v1/frames_pb.js";
import { RetryPolicy, closeError } from "./retry.js";
import type { CloseReason, RetryOptions } from "./retry.js";
import { fetchToken, refreshDelay, tokenSubject } from "./tokens.js";
import { openHttpStream } from "./httpstream.js";
import type { StreamFrame } from "./httpstream.js";
import type { TokenSource } from "./tokens.js";

/** Where the client's WebSocket is in its life. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** A server-streaming method of the contract exposed by the edge. */
export type StreamingMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = DescMethod & {
  methodKind: "server_streaming";
  input: I;
  output: O;
};

/** A client-streaming or bidirectional method of the contract exposed by the edge (over the socket only). */
export type DuplexMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = DescMethod & {
  methodKind: "bidi_streaming" | "client_streaming";
  input: I;
  output: O;
};

/**
 * An open client-streaming or bidirectional stream: `send` messages, `end` when done, and iterate over the replies
 * (leaving the loop cancels the call). It cannot resume: if the socket closes, the loop throws 14 UNAVAILABLE and
 * the application opens a new one — the messages already sent cannot be replayed.
 */
export interface DuplexStream<I extends DescMessage, O extends DescMessage> extends AsyncIterable<MessageShape<O>> {
  /** Its id on the socket. */
  readonly id: string;
  /** Sends one message upstream; queued (bounded) until the socket is open. Throws 9 after `end()` or the end of the stream. */
  send(message: MessageInitShape<I>): void;
  /** Half-closes: no more messages; replies keep coming until the backend ends the call. */
  end(): void;
  /** Cancels the call; the loop ends. */
  cancel(): void;
}

/** What came with a message besides the message. */
export interface NextInfo {
  /** Messages the edge discarded for this subscriber before this one (drop-oldest streams whose reader fell behind). */
  dropped: number;
}

/** What to do with a subscription's messages. */
export interface SubscriptionHandlers<O extends DescMessage> {
  /** Called with each message, in order; after a reconnect or resume, only with messages not seen before. */
  next: (message: MessageShape<O>, info: NextInfo) => void;
  /** Called once when the subscription ends with an error; the error carries the gRPC code (1 CANCELLED after an abort). */
  error?: (error: EdgeError) => void;
  /** Called once when the stream completes normally, or when the client is closed. */
  complete?: () => void;
  /** Called when the subscription is asked for again from its cursor (after a reconnect, UNAVAILABLE, RESOURCE_EXHAUSTED or an expired token). */
  resumed?: (cursor: unknown) => void;
}

/** Per-call options of `subscribe` and `stream`. */
export interface SubscribeOptions {
  /** Ends the subscription with 1 CANCELLED when aborted. */
  signal?: AbortSignal;
  /** Ends the subscription with 4 DEADLINE_EXCEEDED after this long. */
  timeoutMs?: number;
  /**
   * Metadata for the subscription's upstream call (e.g. `x-request-id`), sent again on every resubscribe. The edge
   * forwards only the keys its operator lists (`EdgeBridge:WebSockets:ForwardedMetadata`) and refuses others, and
   * shared streams take none, with 3 INVALID_ARGUMENT.
   */
  headers?: Record<string, string>;
}

/** A running subscription. */
export interface Subscription {
  /** Its id on the socket. */
  readonly id: string;
  /** The position of the last message delivered, by the contract's `resume` cursor; undefined before the first or without one. */
  readonly cursor: unknown;
  /** Stops it; the edge cancels the upstream call. */
  unsubscribe(): void;
}

/** The minimal WebSocket shape the client needs: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  /** The HTTP status of a refused handshake, when the implementation can tell (browsers cannot; see {@link webSocketFromWs}). */
  handshakeStatus?: number;
  /** The refusal's `Retry-After` in milliseconds, when the implementation can tell. */
  retryAfterMs?: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Creates a WebSocket for a URL and subprotocols. */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

/** What the socket reports as it lives. */
export interface SocketEvents {
  /** An attempt to connect starts (0 for the first, then counting failed attempts in a row). */
  connecting: { attempt: number };
  /** The first `ack`. */
  connected: { connectionId: string };
  /** The socket closed and will be opened again after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; code: number; reason: string };
  /** An `ack` after a reconnect; subscriptions are being resumed. */
  reconnected: { connectionId: string };
  /**
   * The edge is draining (`goaway`): the socket moves by itself, at a random moment in the first half of
   * `reconnectWithinMs`, resuming every subscription from its cursor; the edge closes it with 1001 after that.
   */
  draining: { reconnectWithinMs: number };
  /** The socket is closed for good: by `close()`, or after a close the retry policy does not retry. */
  closed: { code: number; reason: string; error: EdgeError | undefined };
  /** The token was refused and `getToken()` had no other: subscriptions that need it ended with 16; public ones go on without it. */
  signedOut: { error: EdgeError };
  /** `getToken()` threw, hung or the edge refused its token; it is asked again after a backoff delay. */
  tokenError: { error: unknown };
  /**
   * Server streams moved to HTTP (server-sent events) because WebSockets could not be opened, or back to the socket
   * once one was: the socket keeps trying under its retry policy meanwhile.
   */
  transport: { transport: "websocket" | "http" };
}

/** Options of the socket connection. */
export interface SocketOptions {
  /** The edge's WebSocket URL, e.g. "wss://edge.example.com/ws". */
  url: string;
  /**
   * Supplies the access token (may be async, like SignalR's `accessTokenFactory`): called at every connect and
   * before the current token expires, whose replacement goes to the edge in an `auth` frame. Undefined: anonymous.
   */
  getToken?: TokenSource;
  /** Creates the WebSocket; defaults to the global WebSocket (browsers, Node 22+). In Node 20 use {@link webSocketFromWs}. */
  webSocket?: WebSocketFactory;
  /** When and how often to reconnect, and to resume subscriptions. */
  retry?: RetryOptions;
  /**
   * How subscriptions receive their messages: "json" (default) as proto3 JSON text frames, or "proto" as binary
   * frames of protobuf — about 40 % of the bytes for the same messages, decoded with the generated schemas.
   */
  encoding?: "json" | "proto";
  /**
   * Where server streams go when WebSockets are blocked (a proxy refuses the upgrade, or closes the socket before
   * `ack`): after `afterAttempts` such attempts in a row (default 3), each subscription continues as an HTTP stream
   * (server-sent events over fetch, the token in the Authorization header) from its cursor, and moves back to the
   * socket, again from its cursor, as soon as one opens. Client and bidirectional streams wait for the socket.
   */
  httpFallback?: { baseUrl: string; streamPath?: string; afterAttempts?: number; fetch?: typeof fetch };
  /**
   * Longest wait from starting an attempt to the edge's `ack` (default 10 s): a handshake or an `init` that hangs — a
   * balancer holding the connection, an edge that stopped answering — is abandoned and retried under the retry policy.
   */
  ackTimeoutMs?: number;
}

interface ActiveSubscription {
  id: string;
  method: StreamingMethod;
  contract: StreamContract;
  request: MessageShape<DescMessage>;
  headers: Record<string, string> | undefined;
  handlers: SubscriptionHandlers<DescMessage>;
  cursor: unknown;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  retries: number;
  cleanup: () => void;
  /** For client-streaming and bidirectional streams: messages waiting for the socket, and whether it was opened. */
  duplex?: { pending: unknown[]; opened: boolean; ended: boolean };
  /** Aborts its HTTP stream while on the HTTP fallback. */
  http?: AbortController;
}

const OPEN = 1;

/**
 * One multiplexed `edgebridge.v1` WebSocket. Subscriptions survive reconnects, replicas and tokens: the socket
 * reconnects under its retry policy, keeps the token fresh with `auth` frames, and resubscribes each stream from the
 * cursor its contract declares (`edgebridge.v1.stream` `resume`), so no message is lost or delivered twice.
 */
export class EdgeSocket {
  private readonly options: SocketOptions;
  private readonly policy: RetryPolicy;
  private readonly subscriptions = new Map<string, ActiveSubscription>();
  private readonly calls = new Map<string, { method: DescMethod; resolve: (message: unknown) => void; reject: (error: EdgeError) => void }>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly eventListeners = new Map<keyof SocketEvents, Set<(event: never) => void>>();
  private socket: WebSocketLike | undefined;
  private current: ConnectionState = "connecting";
  private attempt = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private moveTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private acked = false;
  private everConnected = false;
  /** The token the open connection runs with (sent in `init` or the last accepted `auth`). */
  private token: string | undefined;
  /** After a refused token with no replacement: connect without one until `refreshToken()` finds one. */
  private signedOut = false;
  /** A refused token gets one more attempt with whatever getToken() gives then. */
  private retriedToken = false;
  private tokenFailures = 0;
  /** Whether server streams run over HTTP because the socket could not be opened. */
  private onHttp = false;

  constructor(options: SocketOptions) {
    this.options = options;
    this.policy = new RetryPolicy(options.retry);
    // On the next microtask, so that listeners attached right after construction see the first `connecting`.
    queueMicrotask(() => void this.connect());
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Calls `listener` on every state change (and once now); returns a function that stops it. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.current);
    return () => this.stateListeners.delete(listener);
  }

  /** Observes one kind of event; returns a function that stops it. */
  on<K extends keyof SocketEvents>(event: K, listener: (event: SocketEvents[K]) => void): () => void {
    let listeners = this.eventListeners.get(event);
    if (!listeners) {
      listeners = new Set();
      this.eventListeners.set(event, listeners);
    }
    listeners.add(listener as (event: never) => void);
    return () => listeners.delete(listener as (event: never) => void);
  }

  /** Subscribes to a server-streaming method. */
  subscribe<I extends DescMessage, O extends DescMessage>(
    method: StreamingMethod<I, O>,
    request: MessageInitShape<I>,
    handlers: SubscriptionHandlers<O>,
    options: SubscribeOptions = {},
  ): Subscription {
    const id = `s${++this.nextId}`;
    const active: ActiveSubscription = {
      id,
      method: method as StreamingMethod,
      contract: streamContract(method),
      request: create(method.input, request) as MessageShape<DescMessage>,
      headers: options.headers && Object.keys(options.headers).length > 0 ? { ...options.headers } : undefined,
      handlers: handlers as unknown as SubscriptionHandlers<DescMessage>,
      cursor: undefined,
      retryTimer: undefined,
      retries: 0,
      cleanup: () => {},
    };
    const subscription: Subscription = {
      id,
      get cursor() {
        return active.cursor;
      },
      unsubscribe: () => this.unsubscribe(id),
    };
    if (this.current === "closed") {
      queueMicrotask(() => active.handlers.error?.(new EdgeError(Code.Unavailable, "The client is closed.")));
      return subscription;
    }
    if (options.signal?.aborted) {
      queueMicrotask(() => active.handlers.error?.(cancelled(options.signal)));
      return subscription;
    }

    const onAbort = () => this.end(id, cancelled(options.signal));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const deadline = options.timeoutMs !== undefined
      ? setTimeout(() => this.end(id, new EdgeError(Code.DeadlineExceeded, `The subscription's ${options.timeoutMs} ms deadline passed.`)), options.timeoutMs)
      : undefined;
    active.cleanup = () => {
      options.signal?.removeEventListener("abort", onAbort);
      clearTimeout(deadline);
      clearTimeout(active.retryTimer);
    };
    this.subscriptions.set(id, active);
    this.sendSubscribe(active);
    return subscription;
  }

  /**
   * Subscribes and returns the messages as an async iterable; leaving the loop unsubscribes. Messages the loop has
   * not taken yet wait in a buffer bounded by the method's queue limit (`limit`, default the contract's or 1024) under
   * the method's slow-consumer policy: drop-oldest streams drop (and count, in `dropped`), others end with 8.
   */
  stream<I extends DescMessage, O extends DescMessage>(
    method: StreamingMethod<I, O>,
    request: MessageInitShape<I>,
    options: SubscribeOptions & { limit?: number } = {},
  ): AsyncIterable<MessageShape<O>> & { readonly dropped: number } {
    const contract = streamContract(method);
    const limit = Math.max(1, options.limit ?? (contract.queueLimit > 0 ? contract.queueLimit : 1024));
    let dropped = 0;
    return {
      get dropped() {
        return dropped;
      },
      [Symbol.asyncIterator]: () => {
        const inbox = new Inbox<MessageShape<O>>();
        const subscription = this.subscribe(method, request, {
          next: (message, info) => {
            dropped += info.dropped;
            if (inbox.length >= limit) {
              if (!contract.dropOldest) {
                subscription.unsubscribe();
                inbox.fail(new EdgeError(Code.ResourceExhausted, `The loop fell ${limit} messages behind the stream.`));
                return;
              }
              inbox.shift();
              dropped++;
            }
            inbox.push(message);
          },
          error: (error) => inbox.fail(error),
          complete: () => inbox.finish(),
        }, options);
        return {
          next: () => inbox.next(),
          return: async (): Promise<IteratorResult<MessageShape<O>>> => {
            subscription.unsubscribe();
            inbox.finish();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /**
   * Opens a client-streaming or bidirectional stream (`edgebridge.v1.stream` on such a method). Replies wait in a buffer
   * bounded like `stream()`'s; messages sent before the socket is open wait in one of the same size (one more throws 8).
   */
  open<I extends DescMessage, O extends DescMessage>(method: DuplexMethod<I, O>, options: SubscribeOptions & { limit?: number } = {}): DuplexStream<I, O> {
    const contract = streamContract(method);
    const limit = Math.max(1, options.limit ?? (contract.queueLimit > 0 ? contract.queueLimit : 1024));
    const id = `d${++this.nextId}`;
    const replies = new Inbox<MessageShape<O>>();
    const duplex = { pending: [] as unknown[], opened: false, ended: false };
    const active: ActiveSubscription = {
      id,
      method: method as unknown as StreamingMethod,
      contract,
      request: create(method.input) as MessageShape<DescMessage>,
      headers: options.headers && Object.keys(options.headers).length > 0 ? { ...options.headers } : undefined,
      handlers: {
        next: (message) => {
          if (replies.length >= limit) {
            this.end(id, new EdgeError(Code.ResourceExhausted, `The loop fell ${limit} messages behind the stream.`));
            return;
          }
          replies.push(message as MessageShape<O>);
        },
        error: (error) => replies.fail(error),
        complete: () => replies.finish(),
      },
      cursor: undefined,
      retryTimer: undefined,
      retries: 0,
      cleanup: () => {},
      duplex,
    };
    const over = () => !this.subscriptions.has(id);
    const stream: DuplexStream<I, O> = {
      id,
      send: (message) => {
        if (over() || duplex.ended) {
          throw new EdgeError(Code.FailedPrecondition, duplex.ended ? "end() was called: the stream takes no more messages." : "The stream is over.");
        }
        const json = toJson(method.input, create(method.input, message));
        if (duplex.opened) {
          this.send({ type: "send", id, message: json });
        } else if (duplex.pending.length < limit) {
          duplex.pending.push(json);
        } else {
          throw new EdgeError(Code.ResourceExhausted, `${limit} messages already wait for the socket to open.`);
        }
      },
      end: () => {
        if (over() || duplex.ended) {
          return;
        }
        duplex.ended = true;
        if (duplex.opened) {
          this.send({ type: "end", id });
        }
      },
      cancel: () => {
        this.unsubscribe(id);
        replies.finish();
      },
      [Symbol.asyncIterator]: () => ({
        next: () => replies.next(),
        return: async (): Promise<IteratorResult<MessageShape<O>>> => {
          stream.cancel();
          return { value: undefined, done: true };
        },
      }),
    };
    if (this.current === "closed") {
      replies.fail(new EdgeError(Code.Unavailable, "The client is closed."));
      return stream;
    }
    const onAbort = () => this.end(id, cancelled(options.signal));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    active.cleanup = () => options.signal?.removeEventListener("abort", onAbort);
    this.subscriptions.set(id, active);
    this.sendSubscribe(active);
    return stream;
  }

  /**
   * Calls a unary method the contract opts into socket calls (`edgebridge.v1.call`) on the open socket: no HTTP
   * request per call. Rejects with 14 UNAVAILABLE when the socket is not open or closes before the answer (the
   * call may still have been carried out: retry what is idempotent, e.g. an order with its `client_order_id`).
   */
  call<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }, request: MessageInitShape<I>, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<MessageShape<O>> {
    if (!this.acked || this.socket?.readyState !== OPEN) {
      return Promise.reject(new EdgeError(Code.Unavailable, "The socket is not open."));
    }
    if (options.signal?.aborted) {
      return Promise.reject(cancelled(options.signal));
    }
    const id = `c${++this.nextId}`;
    return new Promise<MessageShape<O>>((resolve, reject) => {
      const done = () => {
        this.calls.delete(id);
        options.signal?.removeEventListener("abort", onAbort);
        clearTimeout(deadline);
      };
      const onAbort = () => {
        done();
        reject(cancelled(options.signal));
      };
      const deadline = options.timeoutMs !== undefined
        ? setTimeout(() => {
          done();
          reject(new EdgeError(Code.DeadlineExceeded, `The call's ${options.timeoutMs} ms deadline passed.`));
        }, options.timeoutMs)
        : undefined;
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.calls.set(id, {
        method,
        resolve: (message) => {
          done();
          resolve(message as MessageShape<O>);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.send({ type: "call", id, method: `${method.parent.typeName}/${method.name}`, request: toJson(method.input, create(method.input, request)) });
    });
  }

  /**
   * Asks `getToken()` again now and, when it gives another token, sends it on the open socket (an `auth` frame) —
   * or, for another user, reconnects with it. Called by itself before each token expires.
   */
  async refreshToken(): Promise<void> {
    clearTimeout(this.refreshTimer);
    if (this.current === "closed") {
      return;
    }
    let token: string | undefined;
    try {
      token = await fetchToken(this.options.getToken);
    } catch (error) {
      this.tokenFailed(error);
      return;
    }
    this.tokenFailures = 0;
    if (token === undefined || token === this.token) {
      // Not renewed yet: ask again in a second, not in a loop, until the token source has the next one.
      this.scheduleRefresh(1_000);
      return;
    }
    if (this.signedOut) {
      // Signed in again: reconnect with the token, and the streams that need it can be subscribed again.
      this.signedOut = false;
      this.restart();
      return;
    }
    if (!this.acked) {
      return; // The connection being opened asks getToken() itself.
    }
    if (this.token !== undefined && tokenSubject(token) !== tokenSubject(this.token)) {
      // Another user: a connection's identity changes only by reconnecting. An anonymous one signs in in place.
      this.restart();
      return;
    }
    this.token = token;
    this.send({ type: "auth", token });
    this.scheduleRefresh();
  }

  /** Closes the socket for good: every open subscription completes, every open iterator ends. */
  close(): void {
    if (this.current === "closed") {
      return;
    }
    this.setState("closed");
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.moveTimer);
    clearTimeout(this.refreshTimer);
    const open = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const active of open) {
      active.http?.abort();
      active.cleanup();
      active.handlers.complete?.();
    }
    this.socket?.close(1000, "");
    this.failCalls();
    this.emit("closed", { code: 1000, reason: "closed by the client", error: undefined });
  }

  private async connect(): Promise<void> {
    this.acked = false;
    this.emit("connecting", { attempt: this.attempt });
    let token: string | undefined;
    if (!this.signedOut) {
      try {
        token = await fetchToken(this.options.getToken);
      } catch (error) {
        this.emit("tokenError", { error });
        this.closed({ code: 1006, reason: `getToken() failed: ${(error as Error).message ?? error}`, wasOpen: false });
        return;
      }
    }
    if (this.current === "closed") {
      return;
    }
    this.token = token;
    const factory = this.options.webSocket ?? defaultFactory();
    const socket = factory(this.options.url, ["edgebridge.v1"]);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => this.send(token ? { type: "init", token } : { type: "init" });
    const ackTimer = setTimeout(() => {
      if (this.socket === socket && !this.acked) {
        // Counts as a failed attempt, like a close before ack.
        socket.onclose?.({ code: 1006, reason: `no ack within ${this.options.ackTimeoutMs ?? 10_000} ms` });
        socket.onclose = null;
        try {
          socket.close();
        } catch {
          // Closing a socket that never connected may throw; it is abandoned either way.
        }
      }
    }, this.options.ackTimeoutMs ?? 10_000);
    socket.onmessage = (event) => {
      const bytes = binaryData(event.data);
      if (bytes === undefined) {
        this.receive(String(event.data));
      } else {
        this.receiveBinary(bytes);
      }
    };
    socket.onerror = (event) => {
      // A refused handshake: `ws` says "Unexpected server response: 403"; onclose follows and decides.
      const status = /Unexpected server response: (\d{3})/.exec(String((event as { message?: unknown })?.message ?? ""))?.[1];
      if (status !== undefined && socket.handshakeStatus === undefined) {
        socket.handshakeStatus = Number(status);
      }
    };
    socket.onclose = (event) => {
      clearTimeout(ackTimer);
      if (this.socket !== socket) {
        return;
      }
      this.socket = undefined;
      this.failCalls();
      this.failDuplex();
      const wasOpen = this.acked;
      this.acked = false;
      clearTimeout(this.refreshTimer);
      this.closed({
        code: event.code,
        reason: event.reason,
        wasOpen,
        ...(socket.handshakeStatus !== undefined ? { handshakeStatus: socket.handshakeStatus } : {}),
        ...(socket.retryAfterMs !== undefined ? { retryAfterMs: socket.retryAfterMs } : {}),
      });
    };
  }

  /** The connection ended (or never started): reconnect under the policy, sign out, or stop. */
  private closed(reason: CloseReason): void {
    if (this.current === "closed") {
      return;
    }
    if (reason.code === 4401 && this.token !== undefined) {
      // The edge refused the token: one more attempt with whatever getToken() gives now; if that is refused too,
      // the user is signed out and public subscriptions go on without a token.
      if (!this.retriedToken) {
        this.retriedToken = true;
        void this.connect();
        return;
      }
      this.retriedToken = false;
      this.signOut(new EdgeError(Code.Unauthenticated, `The edge refused the token: ${reason.reason || "4401"}`));
      if (this.subscriptions.size > 0) {
        this.attempt = 0;
        void this.connect();
        return;
      }
    }
    const attempt = this.attempt++;
    if (!this.policy.shouldRetry(reason, attempt)) {
      const error = closeError(reason);
      this.setState("closed");
      clearTimeout(this.refreshTimer);
      const open = [...this.subscriptions.values()];
      this.subscriptions.clear();
      this.onHttp = false;
      for (const active of open) {
        active.http?.abort();
        active.cleanup();
        active.handlers.error?.(error);
      }
      this.emit("closed", { code: reason.code, reason: reason.reason, error });
      return;
    }
    const fallback = this.options.httpFallback;
    if (fallback && !this.onHttp && this.attempt >= (fallback.afterAttempts ?? 3)) {
      // Several attempts in a row refused or closed before ack: WebSockets are blocked on this path.
      this.onHttp = true;
      this.emit("transport", { transport: "http" });
      for (const active of this.subscriptions.values()) {
        if (!active.duplex) {
          void this.openHttp(active);
        }
      }
    }
    const delayMs = this.policy.delay(attempt, reason.retryAfterMs);
    this.setState("reconnecting");
    this.emit("reconnecting", { attempt, delayMs, code: reason.code, reason: reason.reason });
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private receive(data: string): void {
    let frame: { type?: string; id?: string; message?: unknown; status?: unknown; dropped?: unknown; connectionId?: unknown; reconnectWithinMs?: unknown };
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }

    switch (frame.type) {
      case "ack":
        if (!this.acked) {
          this.acked = true;
          this.attempt = 0;
          if (this.onHttp) {
            // The socket works again: every stream moves back to it, from its cursor.
            this.onHttp = false;
            for (const active of this.subscriptions.values()) {
              active.http?.abort();
              delete active.http;
            }
            this.emit("transport", { transport: "websocket" });
          }
          this.retriedToken = false;
          this.setState("open");
          const connectionId = String(frame.connectionId ?? "");
          this.emit(this.everConnected ? "reconnected" : "connected", { connectionId });
          this.everConnected = true;
          for (const active of this.subscriptions.values()) {
            this.sendSubscribe(active);
          }
          this.scheduleRefresh();
        }
        return;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "goaway": {
        // Every client of a draining edge gets this at once: each moves at its own random moment, so the edges that
        // stay take the load spread out. The first half of the period leaves the second for an attempt that still
        // reached the draining edge (refused with 503 and Retry-After) to try again before the edge closes.
        const within = Math.max(0, Number(frame.reconnectWithinMs ?? 0)) || 0;
        const socket = this.socket;
        this.emit("draining", { reconnectWithinMs: within });
        clearTimeout(this.moveTimer);
        this.moveTimer = setTimeout(() => {
          if (this.socket === socket && this.current !== "closed") {
            this.restart();
          }
        }, Math.random() * (within / 2));
        return;
      }
      case "next": {
        const active = frame.id === undefined ? undefined : this.subscriptions.get(frame.id);
        if (active) {
          this.deliver(active, fromJson(active.method.output, frame.message as never, { ignoreUnknownFields: true }), Number(frame.dropped ?? 0));
        }
        return;
      }
      case "complete": {
        const active = frame.id === undefined ? undefined : this.subscriptions.get(frame.id);
        if (active) {
          this.subscriptions.delete(active.id);
          active.cleanup();
          active.handlers.complete?.();
        }
        return;
      }
      case "result": {
        const pending = frame.id === undefined ? undefined : this.calls.get(frame.id);
        if (pending) {
          try {
            pending.resolve(fromJson(pending.method.output, frame.message as never, { ignoreUnknownFields: true }));
          } catch (error) {
            pending.reject(new EdgeError(Code.Internal, `The result does not fit ${pending.method.output.typeName}: ${(error as Error).message}`));
          }
        }
        return;
      }
      case "error":
        if (frame.id !== undefined && this.calls.has(frame.id)) {
          this.calls.get(frame.id)!.reject(EdgeError.fromStatus(frame.status));
        } else if (frame.id === undefined) {
          this.connectionError(EdgeError.fromStatus(frame.status));
        } else {
          this.subscriptionError(frame.id, EdgeError.fromStatus(frame.status));
        }
        return;
    }
  }

  /** A binary frame: the `next` of a subscription made with "encoding":"proto" (edgebridge.v1.NextFrame). */
  private receiveBinary(bytes: Uint8Array): void {
    let message: MessageShape<DescMessage>;
    let active: ActiveSubscription | undefined;
    let dropped = 0;
    try {
      const frame = fromBinary(NextFrameSchema, bytes);
      active = this.subscriptions.get(frame.id);
      if (!active) {
        return;
      }
      dropped = Number(frame.dropped);
      message = fromBinary(active.method.output, frame.message);
    } catch {
      return;
    }
    this.deliver(active, message, dropped);
  }

  private deliver(active: ActiveSubscription, message: MessageShape<DescMessage>, dropped: number): void {
    const cursor = cursorOf(active.contract, message);
    if (cursor !== undefined) {
      if (isReplay(active.cursor, cursor)) {
        return; // Already delivered before a resume.
      }
      active.cursor = cursor;
    }
    active.retries = 0;
    active.handlers.next(message, { dropped });
  }

  /** An error frame without an id: about the connection's token (or a frame of ours the edge rejected). */
  private connectionError(error: EdgeError): void {
    if (error.code === Code.Unauthenticated) {
      // The `auth` frame's token was refused; the previous one stays in use until it expires.
      this.tokenFailed(error);
    } else if (error.code === Code.PermissionDenied) {
      // A token for another user: a connection changes identity only by reconnecting.
      this.restart();
    }
  }

  private subscriptionError(id: string, error: EdgeError): void {
    const active = this.subscriptions.get(id);
    if (!active) {
      return;
    }
    if (active.duplex) {
      this.drop(active, error);
      return;
    }
    const resumable = error.code === Code.Unavailable || error.code === Code.ResourceExhausted
      || (error.code === Code.Unauthenticated && active.contract.authRequired && !this.signedOut);
    if (resumable && this.current !== "closed" && active.retries < 10) {
      // The backend restarting, the subscriber falling behind or its token expiring is not the subscriber's problem:
      // subscribe again from the cursor, with backoff, after a fresh token when that was the reason.
      const delayMs = this.policy.delay(active.retries++, error.retryAfterMs);
      active.retryTimer = setTimeout(async () => {
        if (error.code === Code.Unauthenticated) {
          await this.refreshToken();
        }
        if (this.subscriptions.get(id) === active) {
          this.sendSubscribe(active);
        }
      }, delayMs);
      return;
    }
    this.end(id, error);
  }

  private sendSubscribe(active: ActiveSubscription): void {
    if (!this.acked) {
      if (this.onHttp && !active.duplex) {
        void this.openHttp(active);
      }
      return; // Sent when the ack arrives.
    }
    if (active.contract.authRequired && this.signedOut) {
      this.end(active.id, new EdgeError(Code.Unauthenticated, "Signed out: this stream needs a token."));
      return;
    }
    if (active.duplex) {
      this.openDuplex(active, active.duplex);
      return;
    }
    const request = this.resumeRequest(active);
    this.send({
      type: "subscribe",
      id: active.id,
      method: `${active.method.parent.typeName}/${active.method.name}`,
      request: toJson(active.method.input, request),
      ...(this.options.encoding === "proto" ? { encoding: "proto" } : {}),
      ...(active.headers ? { metadata: active.headers } : {}),
    });
  }

  /**
   * Runs one subscription as an HTTP stream until the socket is back: from its cursor, with the token of the moment,
   * re-opened with backoff when it breaks and for the errors the socket would resume from.
   */
  private async openHttp(active: ActiveSubscription): Promise<void> {
    const fallback = this.options.httpFallback!;
    active.http?.abort();
    const controller = new AbortController();
    active.http = controller;
    const current = () => this.onHttp && active.http === controller && this.subscriptions.get(active.id) === active;
    const request = this.resumeRequest(active);
    const path = `${fallback.streamPath ?? "/stream"}/${active.method.parent.typeName}/${active.method.name}`;
    try {
      await openHttpStream({
        url: new URL(path, fallback.baseUrl).toString(),
        request: toJson(active.method.input, request),
        token: this.signedOut ? undefined : await fetchToken(this.options.getToken),
        headers: active.headers,
        ...(fallback.fetch ? { fetch: fallback.fetch } : {}),
        signal: controller.signal,
      }, (frame: StreamFrame) => {
        if (!current()) {
          return;
        }
        if (frame.type === "next") {
          this.deliver(active, fromJson(active.method.output, frame.message as never, { ignoreUnknownFields: true }), Number(frame.dropped ?? 0));
        } else if (frame.type === "complete") {
          delete active.http;
          this.subscriptions.delete(active.id);
          active.cleanup();
          active.handlers.complete?.();
        } else {
          throw EdgeError.fromStatus(frame.status);
        }
      });
    } catch (error) {
      if (!current()) {
        return; // Aborted: unsubscribed, closed, or moved back to the socket.
      }
      const failure = error instanceof EdgeError ? error : new EdgeError(Code.Unavailable, String(error));
      const resumable = failure.code === Code.Unavailable || failure.code === Code.ResourceExhausted
        || (failure.code === Code.Unauthenticated && active.contract.authRequired && !this.signedOut);
      if (!resumable || active.retries >= 10) {
        delete active.http;
        this.drop(active, failure);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.policy.delay(active.retries++, failure.retryAfterMs)));
      if (current()) {
        void this.openHttp(active);
      }
    }
  }

  /** The subscription's request, continuing from its cursor when it has one (on any transport). */
  private resumeRequest(active: ActiveSubscription): MessageShape<DescMessage> {
    const request = create(active.method.input, active.request);
    const resume = active.contract.resume;
    if (resume && active.cursor !== undefined) {
      (request as Record<string, unknown>)[resume.requestField.localName] = active.cursor;
      active.handlers.resumed?.(active.cursor);
    }
    return request;
  }

  /** Opens a client or bidirectional stream on the acked socket, then sends what waited for it. */
  private openDuplex(active: ActiveSubscription, duplex: NonNullable<ActiveSubscription["duplex"]>): void {
    if (duplex.opened) {
      // A resubscribe after a reconnect: what was sent on the old socket cannot be replayed.
      this.drop(active, new EdgeError(Code.Unavailable, "The socket reconnected; open the stream again."));
      return;
    }
    duplex.opened = true;
    this.send({
      type: "subscribe",
      id: active.id,
      method: `${active.method.parent.typeName}/${active.method.name}`,
      ...(this.options.encoding === "proto" ? { encoding: "proto" } : {}),
      ...(active.headers ? { metadata: active.headers } : {}),
    });
    for (const message of duplex.pending.splice(0)) {
      this.send({ type: "send", id: active.id, message });
    }
    if (duplex.ended) {
      this.send({ type: "end", id: active.id });
    }
  }

  /** Ends a stream locally, without telling the edge (its socket is gone, or the edge ended it). */
  private drop(active: ActiveSubscription, error: EdgeError): void {
    active.http?.abort();
    this.subscriptions.delete(active.id);
    active.cleanup();
    active.handlers.error?.(error);
  }

  /** The socket is gone: the client and bidirectional streams opened on it end with 14; the others resume later. */
  private failDuplex(): void {
    for (const active of [...this.subscriptions.values()]) {
      if (active.duplex?.opened) {
        this.drop(active, new EdgeError(Code.Unavailable, "The socket closed; open the stream again."));
      }
    }
  }

  private unsubscribe(id: string): void {
    const active = this.subscriptions.get(id);
    if (!active) {
      return;
    }
    active.http?.abort();
    active.cleanup();
    this.subscriptions.delete(id);
    this.send({ type: "unsubscribe", id });
  }

  /** Ends one subscription with `error`, telling the edge when it still runs there. */
  private end(id: string, error: EdgeError): void {
    const active = this.subscriptions.get(id);
    if (!active) {
      return;
    }
    this.unsubscribe(id);
    active.handlers.error?.(error);
  }

  private signOut(error: EdgeError): void {
    this.signedOut = true;
    this.token = undefined;
    for (const active of [...this.subscriptions.values()]) {
      if (active.contract.authRequired) {
        this.subscriptions.delete(active.id);
        active.cleanup();
        active.handlers.error?.(error);
      }
    }
    this.emit("signedOut", { error });
  }

  private tokenFailed(error: unknown): void {
    this.emit("tokenError", { error });
    // Never a tight loop: ask again after the policy's delay, growing with each failure in a row.
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshToken(), this.policy.delay(this.tokenFailures++));
  }

  private scheduleRefresh(floorMs = 0): void {
    clearTimeout(this.refreshTimer);
    const delay = refreshDelay(this.token);
    if (delay !== undefined && this.current !== "closed" && this.options.getToken) {
      this.refreshTimer = setTimeout(() => void this.refreshToken(), Math.max(floorMs, delay));
    }
  }

  /** Drops the connection and opens a new one at once (a new identity); subscriptions resume from their cursors. */
  private restart(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.failCalls();
    this.failDuplex();
    this.acked = false;
    socket?.close(1000, "");
    this.attempt = 0;
    this.setState("reconnecting");
    void this.connect();
  }

  /** Calls waiting on a socket that is gone get 14: whether the edge carried them out is unknown. */
  private failCalls(): void {
    for (const pending of [...this.calls.values()]) {
      pending.reject(new EdgeError(Code.Unavailable, "The socket closed before the call was answered; it may have been carried out."));
    }
  }

  private send(frame: object): void {
    if (this.socket?.readyState === OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  private setState(state: ConnectionState): void {
    if (this.current !== state) {
      this.current = state;
      for (const listener of this.stateListeners) {
        listener(state);
      }
    }
  }

  private emit<K extends keyof SocketEvents>(event: K, value: SocketEvents[K]): void {
    for (const listener of this.eventListeners.get(event) ?? []) {
      (listener as (event: SocketEvents[K]) => void)(value);
    }
  }
}

/** Messages waiting for a loop, and how their stream ended: what `stream()` and `open()` iterate over. */
class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private failure: EdgeError | undefined;
  private done = false;

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  /** Drops the oldest waiting item (drop-oldest streams). */
  shift(): void {
    this.items.shift();
  }

  fail(error: EdgeError): void {
    this.failure = error;
    this.wake?.();
  }

  finish(): void {
    this.done = true;
    this.wake?.();
  }

  /** The next item; after the last one, the end (or the failure, thrown). */
  async next(): Promise<IteratorResult<T>> {
    while (this.items.length === 0 && this.failure === undefined && !this.done) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    if (this.items.length > 0) {
      return { value: this.items.shift()!, done: false };
    }
    if (this.failure !== undefined) {
      throw this.failure;
    }
    return { value: undefined, done: true };
  }
}

/**
 * A {@link WebSocketFactory} over the `ws` package (Node 20) that also reports a refused handshake's HTTP status and
 * `Retry-After`, which browsers hide: `webSocket: webSocketFromWs(WebSocket)` with `import { WebSocket } from "ws"`.
 */
export function webSocketFromWs(ctor: new (url: string, protocols: string[]) => unknown): WebSocketFactory {
  return (url, protocols) => {
    const socket = new ctor(url, protocols) as WebSocketLike & {
      on(event: "unexpected-response", listener: (request: unknown, response: { statusCode?: number; headers: Record<string, unknown> }) => void): void;
      terminate(): void;
    };
    socket.on("unexpected-response", (_, response) => {
      if (response.statusCode !== undefined) {
        socket.handshakeStatus = response.statusCode;
      }
      const retryAfter = Number(response.headers["retry-after"]);
      if (Number.isFinite(retryAfter) && retryAfter >= 0) {
        socket.retryAfterMs = retryAfter * 1000;
      }
      // With this listener `ws` leaves the refused request to us: abort it, which closes the socket (1006).
      socket.terminate();
    });
    return socket;
  };
}

function cancelled(signal: AbortSignal | undefined): EdgeError {
  const reason = signal?.reason;
  return new EdgeError(Code.Cancelled, reason instanceof Error ? `Cancelled: ${reason.message}` : "Cancelled.");
}

/** The bytes of a binary WebSocket message: an ArrayBuffer in browsers, a Buffer (or Buffer[]) from `ws`. */
function binaryData(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) {
    return new Uint8Array(data);
  }
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return undefined;
}

function defaultFactory(): WebSocketFactory {
  const ctor = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike }).WebSocket;
  if (!ctor) {
    throw new Error("No global WebSocket: pass options.webSocket (e.g. webSocketFromWs(WebSocket) with the 'ws' package in Node 20).");
  }
  return (url, protocols) => new ctor(url, protocols);
}
