import { create, fromBinary, fromJson, toJson } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, EdgeError } from "./errors.js";
import { NextFrameSchema } from "./gen/edgebridge/v1/frames_pb.js";

/** Where the client's WebSocket is in its life. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** A server-streaming method of the contract exposed by the edge. */
export type StreamingMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = DescMethod & {
  methodKind: "server_streaming";
  input: I;
  output: O;
};

/** What to do with a subscription's messages. */
export interface SubscriptionHandlers<O extends DescMessage> {
  /** Called with each message, in order; after a reconnect, only with messages not seen before. */
  next: (message: MessageShape<O>) => void;
  /** Called once when the subscription ends with an error; the error carries the gRPC code. */
  error?: (error: EdgeError) => void;
  /** Called once when the stream completes normally. */
  complete?: () => void;
}

/** A running subscription. */
export interface Subscription {
  /** Its id on the socket. */
  readonly id: string;
  /** Stops it; the edge cancels the upstream call. */
  unsubscribe(): void;
}

/** The minimal WebSocket shape the client needs: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Creates a WebSocket for a URL and subprotocols. */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

/** Reconnect timing: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** First delay in milliseconds (default 250). */
  initialDelayMs?: number;
  /** Largest delay in milliseconds (default 10000). */
  maxDelayMs?: number;
}

/** Options of the socket connection. */
export interface SocketOptions {
  /** The edge's WebSocket URL, e.g. "wss://edge.example.com/ws". */
  url: string;
  /** Returns the current access token (called at every connect); undefined for anonymous use. */
  token?: () => string | undefined;
  /** Creates the WebSocket; defaults to the global WebSocket (browsers, Node 22+). Pass one based on `ws` in Node 20. */
  webSocket?: WebSocketFactory;
  /** Reconnect timing. */
  backoff?: BackoffOptions;
  /**
   * How subscriptions receive their messages: "json" (default) as proto3 JSON text frames, or "proto" as binary
   * frames of protobuf — about 40 % of the bytes for the same messages, decoded with the generated schemas.
   */
  encoding?: "json" | "proto";
}

interface ActiveSubscription {
  method: StreamingMethod;
  request: MessageShape<DescMessage>;
  handlers: SubscriptionHandlers<DescMessage>;
  /** The highest sequence seen, when the stream's messages carry one. */
  lastSequence: bigint | undefined;
  /** The request field that resumes the stream (after_sequence), when the request has one. */
  resumeField: string | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  retries: number;
}

const OPEN = 1;

/**
 * One multiplexed `edgebridge.v1` WebSocket. Subscriptions survive reconnects: the socket reconnects with backoff
 * and jitter, sends the current token, and resubscribes each stream — from its last sequence where the request has
 * `after_sequence`, so no update is lost or delivered twice.
 */
export class EdgeSocket {
  private readonly options: SocketOptions;
  private readonly subscriptions = new Map<string, ActiveSubscription>();
  private readonly listeners = new Set<(state: ConnectionState) => void>();
  private socket: WebSocketLike | undefined;
  private current: ConnectionState = "connecting";
  private attempt = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private acked = false;

  constructor(options: SocketOptions) {
    this.options = options;
    this.connect();
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Calls `listener` on every state change (and once now); returns a function that stops it. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to a server-streaming method. */
  subscribe<I extends DescMessage, O extends DescMessage>(
    method: StreamingMethod<I, O>,
    request: MessageInitShape<I>,
    handlers: SubscriptionHandlers<O>,
  ): Subscription {
    const id = `s${++this.nextId}`;
    const resume = method.input.fields.find((f) => f.name === "after_sequence");
    const active: ActiveSubscription = {
      method: method as StreamingMethod,
      request: create(method.input, request) as MessageShape<DescMessage>,
      handlers: handlers as unknown as SubscriptionHandlers<DescMessage>,
      lastSequence: undefined,
      resumeField: resume?.localName,
      retryTimer: undefined,
      retries: 0,
    };
    this.subscriptions.set(id, active);
    this.sendSubscribe(id, active);
    return { id, unsubscribe: () => this.unsubscribe(id) };
  }

  /** Subscribes and returns the messages as an async iterable; breaking out of the loop unsubscribes. */
  stream<I extends DescMessage, O extends DescMessage>(
    method: StreamingMethod<I, O>,
    request: MessageInitShape<I>,
  ): AsyncIterable<MessageShape<O>> {
    return {
      [Symbol.asyncIterator]: () => {
        const queue: MessageShape<O>[] = [];
        let wake: (() => void) | undefined;
        let failure: EdgeError | undefined;
        let done = false;
        const subscription = this.subscribe(method, request, {
          next: (message) => {
            queue.push(message);
            wake?.();
          },
          error: (error) => {
            failure = error;
            wake?.();
          },
          complete: () => {
            done = true;
            wake?.();
          },
        });
        return {
          next: async (): Promise<IteratorResult<MessageShape<O>>> => {
            while (queue.length === 0 && failure === undefined && !done) {
              await new Promise<void>((resolve) => (wake = resolve));
              wake = undefined;
            }
            const value = queue.shift();
            if (value !== undefined) {
              return { value, done: false };
            }
            if (failure !== undefined) {
              throw failure;
            }
            return { value: undefined, done: true };
          },
          return: async (): Promise<IteratorResult<MessageShape<O>>> => {
            subscription.unsubscribe();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** Sends a fresh token on the open socket (an `auth` frame); it is also used for every later reconnect. */
  refreshToken(): void {
    const token = this.options.token?.();
    if (token && this.acked) {
      this.send({ type: "auth", token });
    }
  }

  /** Closes the socket for good; subscriptions end without callbacks. */
  close(): void {
    this.setState("closed");
    clearTimeout(this.reconnectTimer);
    for (const active of this.subscriptions.values()) {
      clearTimeout(active.retryTimer);
    }
    this.subscriptions.clear();
    this.socket?.close(1000, "");
  }

  private connect(): void {
    this.acked = false;
    const factory = this.options.webSocket ?? defaultFactory();
    const socket = factory(this.options.url, ["edgebridge.v1"]);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      const token = this.options.token?.();
      this.send(token ? { type: "init", token } : { type: "init" });
    };
    socket.onmessage = (event) => {
      const bytes = binaryData(event.data);
      if (bytes === undefined) {
        this.receive(String(event.data));
      } else {
        this.receiveBinary(bytes);
      }
    };
    socket.onerror = () => {
      // onclose follows and decides what to do.
    };
    socket.onclose = () => {
      if (this.socket !== socket) {
        return;
      }
      this.socket = undefined;
      this.acked = false;
      if (this.current === "closed") {
        return;
      }
      this.setState("reconnecting");
      this.reconnectTimer = setTimeout(() => this.connect(), this.delay(this.attempt++));
    };
  }

  private receive(data: string): void {
    let frame: { type?: string; id?: string; message?: unknown; status?: unknown };
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
          this.setState("open");
          for (const [id, active] of this.subscriptions) {
            this.sendSubscribe(id, active);
          }
        }
        return;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "next": {
        const active = frame.id === undefined ? undefined : this.subscriptions.get(frame.id);
        if (active) {
          this.deliver(active, fromJson(active.method.output, frame.message as never, { ignoreUnknownFields: true }));
        }
        return;
      }
      case "complete": {
        const active = frame.id === undefined ? undefined : this.subscriptions.get(frame.id);
        if (active && frame.id !== undefined) {
          this.subscriptions.delete(frame.id);
          active.handlers.complete?.();
        }
        return;
      }
      case "error":
        this.fail(frame.id, EdgeError.fromStatus(frame.status));
        return;
    }
  }

  /** A binary frame: the `next` of a subscription made with "encoding":"proto" (edgebridge.v1.NextFrame). */
  private receiveBinary(bytes: Uint8Array): void {
    let message: MessageShape<DescMessage>;
    let active: ActiveSubscription | undefined;
    try {
      const frame = fromBinary(NextFrameSchema, bytes);
      active = this.subscriptions.get(frame.id);
      if (!active) {
        return;
      }
      message = fromBinary(active.method.output, frame.message);
    } catch {
      return;
    }
    this.deliver(active, message);
  }

  private deliver(active: ActiveSubscription, message: MessageShape<DescMessage>): void {
    const sequence = findSequence(message);
    if (sequence !== undefined && active.resumeField !== undefined) {
      if (active.lastSequence !== undefined && sequence <= active.lastSequence) {
        return; // Already delivered before a reconnect.
      }
      active.lastSequence = sequence;
    }
    active.retries = 0;
    active.handlers.next(message);
  }

  private fail(id: string | undefined, error: EdgeError): void {
    const active = id === undefined ? undefined : this.subscriptions.get(id);
    if (!active || id === undefined) {
      return;
    }
    // The backend restarting is not the subscriber's problem: resubscribe (from the last sequence) with backoff.
    if (error.code === Code.Unavailable && this.current !== "closed") {
      active.retryTimer = setTimeout(() => {
        if (this.subscriptions.get(id) === active) {
          this.sendSubscribe(id, active);
        }
      }, this.delay(active.retries++));
      return;
    }
    this.subscriptions.delete(id);
    active.handlers.error?.(error);
  }

  private sendSubscribe(id: string, active: ActiveSubscription): void {
    if (!this.acked) {
      return; // Sent when the ack arrives.
    }
    const request = create(active.method.input, active.request);
    if (active.resumeField !== undefined && active.lastSequence !== undefined) {
      (request as Record<string, unknown>)[active.resumeField] = active.lastSequence;
    }
    this.send({
      type: "subscribe",
      id,
      method: `${active.method.parent.typeName}/${active.method.name}`,
      request: toJson(active.method.input, request),
      ...(this.options.encoding === "proto" ? { encoding: "proto" } : {}),
    });
  }

  private unsubscribe(id: string): void {
    const active = this.subscriptions.get(id);
    if (!active) {
      return;
    }
    clearTimeout(active.retryTimer);
    this.subscriptions.delete(id);
    this.send({ type: "unsubscribe", id });
  }

  private send(frame: object): void {
    if (this.socket?.readyState === OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  private setState(state: ConnectionState): void {
    if (this.current !== state) {
      this.current = state;
      for (const listener of this.listeners) {
        listener(state);
      }
    }
  }

  private delay(attempt: number): number {
    const initial = this.options.backoff?.initialDelayMs ?? 250;
    const max = this.options.backoff?.maxDelayMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 16));
    // Full jitter: a fleet of clients reconnecting after an edge restart spreads out instead of stampeding.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }
}

/** The `sequence` of a message (its own field or one of its direct children's), as generated by protobuf-es. */
export function findSequence(message: object): bigint | undefined {
  const record = message as Record<string, unknown>;
  if (typeof record["sequence"] === "bigint") {
    return record["sequence"];
  }
  for (const value of Object.values(record)) {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array)) {
      const inner = (value as Record<string, unknown>)["sequence"];
      if (typeof inner === "bigint") {
        return inner;
      }
    }
  }
  return undefined;
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
    throw new Error("No global WebSocket: pass options.webSocket (e.g. based on the 'ws' package in Node 20).");
  }
  return (url, protocols) => new ctor(url, protocols);
}
