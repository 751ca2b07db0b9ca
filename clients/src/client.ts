import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { callRest, createEtagCache } from "./rest.js";
import type { CallOptions, EtagCache, UnaryMethod } from "./rest.js";
import { EdgeSocket } from "./socket.js";
import { isSocketCall } from "./contract.js";
import type { ConnectionState, DuplexMethod, DuplexStream, SocketEvents, StreamingMethod, SubscribeOptions, Subscription, SubscriptionHandlers, WebSocketFactory } from "./socket.js";
import type { RetryOptions } from "./retry.js";
import { fetchToken } from "./tokens.js";
import type { TokenSource } from "./tokens.js";

/** Options of {@link createEdgeClient}. */
export interface EdgeClientOptions {
  /** Base URL of the edge, e.g. "https://edge.example.com" (the WebSocket URL is derived from it). */
  baseUrl: string;
  /** Path of the WebSocket endpoint (default "/ws"). */
  webSocketPath?: string;
  /**
   * Supplies the access token, possibly async (a refresh with the sample's `POST /v1/auth/refresh`): asked for every
   * REST call, at every connect, and before the socket's token expires. Without it, {@link EdgeClient.setToken} sets one.
   */
  getToken?: TokenSource;
  /** Creates the WebSocket; defaults to the global one. In Node 20 pass `webSocketFromWs(WebSocket)` (the `ws` package). */
  webSocket?: WebSocketFactory;
  /** The fetch implementation for REST calls (defaults to the global one). */
  fetch?: typeof fetch;
  /** When and how often the socket reconnects. */
  retry?: RetryOptions;
  /** How subscriptions receive messages: "json" (default) or "proto" (binary frames, about 40 % of the bytes: a quote is 67 bytes instead of 174). */
  encoding?: "json" | "proto";
  /**
   * When WebSockets cannot be opened (3 attempts in a row refused or closed before `ack`), server streams continue as
   * HTTP streams (server-sent events) from their cursors and move back when the socket opens: on by default, `false`
   * turns it off.
   */
  httpFallback?: false | { afterAttempts?: number; streamPath?: string };
  /** Longest wait from an attempt's start to the edge's `ack` before it is abandoned and retried (default 10 s). */
  ackTimeoutMs?: number;
  /** Revalidate GET calls with `If-None-Match` and answer 304s from memory: true (256 responses), a size, or a cache. */
  etagCache?: boolean | number | EtagCache;
}

/** One client per edge: REST calls and one multiplexed WebSocket for every subscription. */
export interface EdgeClient {
  /** Calls a unary method over REST, mapped by its `google.api.http` rule. */
  call<I extends DescMessage, O extends DescMessage>(method: UnaryMethod<I, O>, request: MessageInitShape<I>, options?: CallOptions | AbortSignal): Promise<MessageShape<O>>;
  /** Subscribes to a server-streaming method over the shared WebSocket (opened on first use). */
  subscribe<I extends DescMessage, O extends DescMessage>(method: StreamingMethod<I, O>, request: MessageInitShape<I>, handlers: SubscriptionHandlers<O>, options?: SubscribeOptions): Subscription;
  /** The same as an async iterable; leaving the loop unsubscribes. */
  stream<I extends DescMessage, O extends DescMessage>(method: StreamingMethod<I, O>, request: MessageInitShape<I>, options?: SubscribeOptions & { limit?: number }): AsyncIterable<MessageShape<O>> & { readonly dropped: number };
  /** Opens a client-streaming or bidirectional stream over the shared WebSocket: send, end, and iterate over the replies. */
  open<I extends DescMessage, O extends DescMessage>(method: DuplexMethod<I, O>, options?: SubscribeOptions & { limit?: number }): DuplexStream<I, O>;
  /** Asks `getToken()` again now: an open socket takes the new token (an `auth` frame; a reconnect only for another user). */
  refreshToken(): Promise<void>;
  /** Sets the token used when no `getToken` was given; an open socket gets it at once (an `auth` frame, or a reconnect for another user). */
  setToken(token: string | undefined): void;
  /** The socket's state ("closed" until the first subscription opens it). */
  readonly connectionState: ConnectionState;
  /** Observes the socket's state; returns a function that stops observing. */
  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void;
  /** Observes the socket's events (connecting, connected, reconnecting, reconnected, draining, closed, signedOut, tokenError). */
  on<K extends keyof SocketEvents>(event: K, listener: (event: SocketEvents[K]) => void): () => void;
  /** Closes the socket: every subscription completes, every loop over `stream()` ends. */
  close(): void;
}

/** Creates a client for one edge. */
export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  let token: string | undefined;
  const getToken: TokenSource = options.getToken ?? (() => token);
  let socket: EdgeSocket | undefined;
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const eventListeners: { event: keyof SocketEvents; listener: (event: never) => void }[] = [];
  // Listeners registered before the socket exists (or across a new one after close()) are attached to each socket.
  const attach = (target: EdgeSocket, event: keyof SocketEvents, listener: (event: never) => void) => target.on(event, listener as never);
  const etags = options.etagCache === true ? createEtagCache() : typeof options.etagCache === "number" ? createEtagCache(options.etagCache) : options.etagCache || undefined;
  const wsUrl = new URL(options.webSocketPath ?? "/ws", options.baseUrl);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";

  // Closed by the edge for good (a limit broken, a refusal the retry policy does not retry): new subscriptions fail on
  // it instead of opening socket after socket against the same refusal; close() lets the next one start afresh.
  let closedByEdge = false;
  const ensureSocket = (): EdgeSocket => {
    if (!socket || (socket.state === "closed" && !closedByEdge)) {
      closedByEdge = false;
      socket = new EdgeSocket({
        url: wsUrl.toString(),
        getToken,
        ...(options.webSocket ? { webSocket: options.webSocket } : {}),
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.encoding ? { encoding: options.encoding } : {}),
        ...(options.ackTimeoutMs !== undefined ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
        ...(options.httpFallback === false ? {} : {
          httpFallback: { baseUrl: options.baseUrl, ...options.httpFallback, ...(options.fetch ? { fetch: options.fetch } : {}) },
        }),
      });
      socket.onStateChange((state) => stateListeners.forEach((listener) => listener(state)));
      socket.on("closed", ({ error }) => (closedByEdge = error !== undefined));
      for (const { event, listener } of eventListeners) {
        attach(socket, event, listener);
      }
    }
    return socket;
  };

  return {
    async call(method, request, callOptions) {
      const perCall: CallOptions = callOptions instanceof AbortSignal ? { signal: callOptions } : (callOptions ?? {});
      // On an open socket, a method the contract opts in goes there: no HTTP request per call. Calls with their own
      // headers go over REST, which can carry them.
      if (socket?.state === "open" && isSocketCall(method) && perCall.headers === undefined) {
        return socket.call(method, request, {
          ...(perCall.signal ? { signal: perCall.signal } : {}),
          ...(perCall.timeoutMs !== undefined ? { timeoutMs: perCall.timeoutMs } : {}),
        });
      }
      return callRest(method, request, {
        ...perCall,
        baseUrl: options.baseUrl,
        token: await fetchToken(getToken),
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(etags ? { etags } : {}),
      });
    },
    subscribe: (method, request, handlers, subscribeOptions) => ensureSocket().subscribe(method, request, handlers, subscribeOptions),
    stream: (method, request, streamOptions) => ensureSocket().stream(method, request, streamOptions),
    open: (method, openOptions) => ensureSocket().open(method, openOptions),
    refreshToken: async () => socket?.refreshToken(),
    setToken(value) {
      token = value;
      void socket?.refreshToken();
    },
    get connectionState() {
      return socket?.state ?? "closed";
    },
    onConnectionStateChange(listener) {
      stateListeners.add(listener);
      listener(socket?.state ?? "closed");
      return () => stateListeners.delete(listener);
    },
    on(event, listener) {
      const entry = { event, listener: listener as (event: never) => void };
      eventListeners.push(entry);
      const off = socket ? attach(socket, event, entry.listener) : undefined;
      return () => {
        eventListeners.splice(eventListeners.indexOf(entry), 1);
        off?.();
      };
    },
    close() {
      socket?.close();
      socket = undefined;
    },
  };
}
