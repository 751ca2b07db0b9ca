import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { callRest } from "./rest.js";
import type { UnaryMethod } from "./rest.js";
import { EdgeSocket } from "./socket.js";
import type { BackoffOptions, ConnectionState, StreamingMethod, Subscription, SubscriptionHandlers, WebSocketFactory } from "./socket.js";

/** Options of {@link createEdgeClient}. */
export interface EdgeClientOptions {
  /** Base URL of the edge, e.g. "https://edge.example.com" (the WebSocket URL is derived from it). */
  baseUrl: string;
  /** Path of the WebSocket endpoint (default "/ws"). */
  webSocketPath?: string;
  /** Creates the WebSocket; defaults to the global one. In Node 20 pass a factory based on the `ws` package. */
  webSocket?: WebSocketFactory;
  /** The fetch implementation for REST calls (defaults to the global one). */
  fetch?: typeof fetch;
  /** Reconnect timing of the WebSocket. */
  backoff?: BackoffOptions;
  /** How subscriptions receive messages: "json" (default) or "proto" (binary frames, a third of the bytes). */
  encoding?: "json" | "proto";
}

/** One client per edge: REST calls and one multiplexed WebSocket for every subscription. */
export interface EdgeClient {
  /** Calls a unary method over REST, mapped by its `google.api.http` rule. */
  call<I extends DescMessage, O extends DescMessage>(method: UnaryMethod<I, O>, request: MessageInitShape<I>, signal?: AbortSignal): Promise<MessageShape<O>>;
  /** Subscribes to a server-streaming method over the shared WebSocket (opened on first use). */
  subscribe<I extends DescMessage, O extends DescMessage>(method: StreamingMethod<I, O>, request: MessageInitShape<I>, handlers: SubscriptionHandlers<O>): Subscription;
  /** The same as an async iterable; leaving the loop unsubscribes. */
  stream<I extends DescMessage, O extends DescMessage>(method: StreamingMethod<I, O>, request: MessageInitShape<I>): AsyncIterable<MessageShape<O>>;
  /** Sets the access token for REST calls and the socket; an open socket gets it at once (an `auth` frame). */
  setToken(token: string | undefined): void;
  /** The socket's state ("closed" until the first subscription opens it). */
  readonly connectionState: ConnectionState;
  /** Observes the socket's state; returns a function that stops observing. */
  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void;
  /** Closes the socket. */
  close(): void;
}

/** Creates a client for one edge. */
export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  let token: string | undefined;
  let socket: EdgeSocket | undefined;
  const listeners = new Set<(state: ConnectionState) => void>();
  const wsUrl = new URL(options.webSocketPath ?? "/ws", options.baseUrl);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";

  const ensureSocket = (): EdgeSocket => {
    if (!socket) {
      socket = new EdgeSocket({
        url: wsUrl.toString(),
        token: () => token,
        ...(options.webSocket ? { webSocket: options.webSocket } : {}),
        ...(options.backoff ? { backoff: options.backoff } : {}),
        ...(options.encoding ? { encoding: options.encoding } : {}),
      });
      socket.onStateChange((state) => listeners.forEach((listener) => listener(state)));
    }
    return socket;
  };

  return {
    call: (method, request, signal) => callRest(method, request, {
      baseUrl: options.baseUrl,
      token,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(signal ? { signal } : {}),
    }),
    subscribe: (method, request, handlers) => ensureSocket().subscribe(method, request, handlers),
    stream: (method, request) => ensureSocket().stream(method, request),
    setToken(value) {
      token = value;
      socket?.refreshToken();
    },
    get connectionState() {
      return socket?.state ?? "closed";
    },
    onConnectionStateChange(listener) {
      listeners.add(listener);
      listener(socket?.state ?? "closed");
      return () => listeners.delete(listener);
    },
    close() {
      socket?.close();
      socket = undefined;
    },
  };
}
