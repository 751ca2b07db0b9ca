import { Code, EdgeError } from "./errors.js";

/** One event of an HTTP stream: the WebSocket's frame for the subscription, without its id. */
export interface StreamFrame {
  type: "next" | "complete" | "error";
  message?: unknown;
  dropped?: number;
  status?: unknown;
}

/** What {@link openHttpStream} needs: where, with what, and with which credentials. */
export interface HttpStreamRequest {
  /** The stream's URL: `{baseUrl}/stream/{package.Service}/{Method}`. */
  url: string;
  /** The request as proto3 JSON (with the cursor set when resuming). */
  request: unknown;
  token?: string | undefined;
  headers?: Record<string, string> | undefined;
  fetch?: typeof fetch;
  signal: AbortSignal;
}

/**
 * Reads one server-sent-event stream of the edge (`POST /stream/...` with `Accept: text/event-stream`): fetch, not
 * EventSource, so that the token goes in the Authorization header and never in a URL. Resolves after the stream's
 * `complete` or `error` event (handed to `onFrame` like every `next`); rejects with an {@link EdgeError} when the edge
 * refuses the request (its google.rpc.Status) and with 14 UNAVAILABLE when the connection breaks before the end.
 */
export async function openHttpStream(request: HttpStreamRequest, onFrame: (frame: StreamFrame) => void): Promise<void> {
  const fetcher = request.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetcher(request.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
        ...request.headers,
      },
      body: JSON.stringify(request.request),
      signal: request.signal,
    });
  } catch (error) {
    throw new EdgeError(Code.Unavailable, `The stream could not be opened: ${(error as Error).message ?? error}`);
  }
  if (!response.ok || !response.body) {
    let status: unknown;
    try {
      status = await response.json();
    } catch {
      status = { code: Code.Unavailable, message: `HTTP ${response.status}` };
    }
    throw EdgeError.fromStatus(status);
  }

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        throw new EdgeError(Code.Unavailable, "The stream's connection closed before its end.");
      }
      buffer += value;
      let boundary: number;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const data = event.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
        if (data.length === 0) {
          continue; // A heartbeat comment, or an event without data.
        }
        const frame = JSON.parse(data) as StreamFrame;
        onFrame(frame);
        if (frame.type !== "next") {
          return;
        }
      }
    }
  } catch (error) {
    if (error instanceof EdgeError) {
      throw error;
    }
    throw new EdgeError(Code.Unavailable, `The stream broke: ${(error as Error).message ?? error}`);
  } finally {
    // Closes the connection when the loop ends early (an abort, a parse error), and is harmless after the end.
    void reader.cancel().catch(() => {});
  }
}
