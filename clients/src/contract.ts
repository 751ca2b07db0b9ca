import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import { Auth, SlowConsumerPolicy, call, stream } from "./gen/edgebridge/v1/options_pb.js";

/** Whether the contract opts a unary method into calls over the socket (`edgebridge.v1.call`). */
export function isSocketCall(method: DescMethod): boolean {
  return method.methodKind === "unary" && hasOption(method, call);
}

/** What the contract's `edgebridge.v1.stream` option says about a streaming method, as the client needs it. */
export interface StreamContract {
  /** The cursor, when the contract declares `resume`: the request field to set and the path to each message's position. */
  resume: { requestField: DescField; responsePath: DescField[] } | undefined;
  /** Whether subscriptions need the caller's token (`AUTH_REQUIRED`). */
  authRequired: boolean;
  /** The method's queue limit (0: the edge's default). */
  queueLimit: number;
  /** Whether a full queue drops its oldest message (otherwise it ends the subscription with RESOURCE_EXHAUSTED). */
  dropOldest: boolean;
}

const cache = new WeakMap<DescMethod, StreamContract>();

/** Reads (once per method) what the contract declares for a streaming method. */
export function streamContract(method: DescMethod): StreamContract {
  let contract = cache.get(method);
  if (!contract) {
    const options = hasOption(method, stream) ? getOption(method, stream) : undefined;
    contract = {
      resume: options?.resume ? resolveResume(method, options.resume.requestField, options.resume.responseField) : undefined,
      authRequired: options?.auth === Auth.REQUIRED,
      queueLimit: options?.queueLimit ?? 0,
      dropOldest: options?.slowConsumer === SlowConsumerPolicy.DROP_OLDEST,
    };
    cache.set(method, contract);
  }
  return contract;
}

/** The cursor of `message` by the contract's response path; undefined when a message on the path is unset. */
export function cursorOf(contract: StreamContract, message: object): unknown {
  let value: unknown = message;
  for (const field of contract.resume?.responsePath ?? []) {
    if (value === null || value === undefined || typeof value !== "object") {
      return undefined;
    }
    value = (value as Record<string, unknown>)[field.localName];
  }
  return contract.resume ? value : undefined;
}

/** True when `next` is at or before `last` (a replayed message), for numeric cursors; other cursors are never compared. */
export function isReplay(last: unknown, next: unknown): boolean {
  if (typeof last === "bigint" && typeof next === "bigint") {
    return next <= last;
  }
  if (typeof last === "number" && typeof next === "number") {
    return next <= last;
  }
  return false;
}

function resolveResume(method: DescMethod, requestField: string, responseField: string): StreamContract["resume"] {
  const request = field(method.input, requestField, method);
  const responsePath: DescField[] = [];
  let message: DescMessage | undefined = method.output;
  for (const name of responseField.split(".")) {
    if (!message) {
      throw new Error(`${method.parent.typeName}/${method.name}: resume.response_field '${responseField}' goes through a field that is not a message`);
    }
    const next = field(message, name, method);
    responsePath.push(next);
    message = next.fieldKind === "message" ? next.message : undefined;
  }
  return { requestField: request, responsePath };
}

function field(message: DescMessage, name: string, method: DescMethod): DescField {
  const found = message.fields.find((f) => f.name === name);
  if (!found) {
    throw new Error(`${method.parent.typeName}/${method.name}: ${message.typeName} has no field '${name}' named by its resume option`);
  }
  return found;
}
