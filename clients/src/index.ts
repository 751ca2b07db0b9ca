// The package's public API: generic over any contract. Generated code of a contract (the sample's trading and chat
// services, or yours) lives with the application that uses it.
export { createEdgeClient } from "./client.js";
export type { EdgeClient, EdgeClientOptions } from "./client.js";
export { EdgeSocket, webSocketFromWs } from "./socket.js";
export type {
  ConnectionState,
  DuplexMethod,
  DuplexStream,
  NextInfo,
  SocketEvents,
  SocketOptions,
  StreamingMethod,
  SubscribeOptions,
  Subscription,
  SubscriptionHandlers,
  WebSocketFactory,
  WebSocketLike,
} from "./socket.js";
export { RetryPolicy, fullJitter, isTerminal } from "./retry.js";
export type { CloseReason, RetryOptions } from "./retry.js";
export type { TokenSource } from "./tokens.js";
export { streamContract } from "./contract.js";
export type { StreamContract } from "./contract.js";
export { buildRestRequest, callRest, createEtagCache, isRestMethod } from "./rest.js";
export type { CallOptions, EtagCache, RestCallOptions, RestRequest, UnaryMethod } from "./rest.js";
export { Code, EdgeError } from "./errors.js";
export { createServiceClient } from "./service.js";
export type { ServiceClient, ServiceExposure, StreamCall } from "./service.js";
