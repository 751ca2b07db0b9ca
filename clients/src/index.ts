// Everything that users need to access is exported here.
export { createEdgeClient } from "./client.js";
export type { EdgeClient, EdgeClientOptions } from "./client.js";
export { EdgeSocket, findSequence } from "./socket.js";
export type {
  BackoffOptions,
  ConnectionState,
  SocketOptions,
  StreamingMethod,
  Subscription,
  SubscriptionHandlers,
  WebSocketFactory,
  WebSocketLike,
} from "./socket.js";
export { buildRestRequest, callRest, isRestMethod } from "./rest.js";
export type { RestCallOptions, RestRequest, UnaryMethod } from "./rest.js";
export { Code, EdgeError } from "./errors.js";
export * as trading from "./gen/trading/v1/trading_pb.js";
export * as marketData from "./gen/trading/v1/market_data_pb.js";
export * as auth from "./gen/trading/v1/auth_pb.js";
export * as chat from "./gen/chat/v1/chat_pb.js";
