import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { EdgeClient } from "./client.js";
import type { CallOptions, UnaryMethod } from "./rest.js";
import type { DuplexMethod, DuplexStream, StreamingMethod, SubscribeOptions, Subscription, SubscriptionHandlers } from "./socket.js";

/**
 * What the edge exposes of one service, as `protoc-gen-edgebridge` generates it (`<file>_edge.ts`): the service and
 * the local names of its REST methods, of its WebSocket streams, and of its client and bidirectional streams.
 */
export interface ServiceExposure {
  readonly service: Omit<DescService, "method"> & { readonly method: Record<string, DescMethod> };
  readonly rest: readonly string[];
  readonly streams: readonly string[];
  readonly duplex?: readonly string[];
}

type Methods<E extends ServiceExposure> = E["service"]["method"];
type Input<M> = M extends { input: infer I extends DescMessage } ? I : never;
type Output<M> = M extends { output: infer O extends DescMessage } ? O : never;

/** A stream of the service: subscribe with handlers, or loop over it. */
export interface StreamCall<I extends DescMessage, O extends DescMessage> {
  subscribe(request: MessageInitShape<I>, handlers: SubscriptionHandlers<O>, options?: SubscribeOptions): Subscription;
  stream(request: MessageInitShape<I>, options?: SubscribeOptions & { limit?: number }): AsyncIterable<MessageShape<O>> & { readonly dropped: number };
}

/**
 * A typed client of one service: a function per REST method, a {@link StreamCall} per stream — and nothing for a
 * method the contract does not expose, so calling one does not compile.
 */
export type ServiceClient<E extends ServiceExposure> = {
  readonly [K in E["rest"][number]]: (request: MessageInitShape<Input<Methods<E>[K]>>, options?: CallOptions) => Promise<MessageShape<Output<Methods<E>[K]>>>;
} & {
  readonly [K in E["streams"][number]]: StreamCall<Input<Methods<E>[K]>, Output<Methods<E>[K]>>;
} & {
  readonly [K in NonNullable<E["duplex"]>[number]]: (options?: SubscribeOptions & { limit?: number }) => DuplexStream<Input<Methods<E>[K]>, Output<Methods<E>[K]>>;
};

/** The typed client of `exposure.service` over `client`: REST calls and subscriptions as the contract says. */
export function createServiceClient<E extends ServiceExposure>(exposure: E, client: EdgeClient): ServiceClient<E> {
  const methods: Record<string, unknown> = {};
  for (const name of exposure.rest) {
    const method = exposure.service.method[name] as UnaryMethod;
    methods[name] = (request: MessageInitShape<DescMessage>, options?: CallOptions) => client.call(method, request, options);
  }
  for (const name of exposure.streams) {
    const method = exposure.service.method[name] as StreamingMethod;
    methods[name] = {
      subscribe: (request: MessageInitShape<DescMessage>, handlers: SubscriptionHandlers<DescMessage>, options?: SubscribeOptions) =>
        client.subscribe(method, request, handlers, options),
      stream: (request: MessageInitShape<DescMessage>, options?: SubscribeOptions & { limit?: number }) => client.stream(method, request, options),
    } satisfies StreamCall<DescMessage, DescMessage>;
  }
  for (const name of exposure.duplex ?? []) {
    const method = exposure.service.method[name] as DuplexMethod;
    methods[name] = (options?: SubscribeOptions & { limit?: number }) => client.open(method, options);
  }
  return Object.freeze(methods) as ServiceClient<E>;
}
