// The live trading dashboard served by the edge at "/": REST for login and reads; one WebSocket for public quotes
// (before anyone logs in), order updates, orders (socket calls while it is open, REST otherwise) and the chat (one
// bidirectional stream for messages and typing both ways). Built into src/EdgeBridge.Host/wwwroot/app.js by `npm run build`.
import { callRest, Code, createEdgeClient, EdgeError } from "../src/index.js";
import type { ConnectionState, DuplexStream, Subscription } from "../src/index.js";
import { AuthService } from "../sample/gen/trading/v1/auth_pb.js";
import { MarketDataService } from "../sample/gen/trading/v1/market_data_pb.js";
import type { Quote } from "../sample/gen/trading/v1/market_data_pb.js";
import { TradingService, OrderSide, OrderStatus } from "../sample/gen/trading/v1/trading_pb.js";
import type { OrderUpdate } from "../sample/gen/trading/v1/trading_pb.js";
import { ChatService } from "../sample/gen/chat/v1/chat_pb.js";
import type { ChatMessage, ConverseRequestSchema, ConverseResponseSchema, TypingIndicator } from "../sample/gen/chat/v1/chat_pb.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";

const ROOM = "lobby";

/** The signed-in user's tokens; undefined before login and after an unrecoverable refresh failure. */
let session: { accessToken: string; expiresAtMs: number; lifetimeMs: number; refreshToken: string } | undefined;
let refreshing: Promise<string | undefined> | undefined;

// Asked before every REST call, at every connect and before the socket's token expires: the access token while it
// has a quarter of its life left (the socket asks at a fifth), else the next one from POST /v1/auth/refresh.
async function getToken(): Promise<string | undefined> {
  if (!session) return undefined;
  if (session.expiresAtMs - Date.now() > Math.min(75_000, session.lifetimeMs / 4)) return session.accessToken;
  refreshing ??= refresh().finally(() => (refreshing = undefined));
  return refreshing;
}

async function refresh(): Promise<string | undefined> {
  const current = session;
  if (!current) return undefined;
  try {
    // Straight over REST without a bearer: the refresh token is the credential.
    const next = await callRest(AuthService.method.refresh, { refreshToken: current.refreshToken }, { baseUrl: location.origin, timeoutMs: 10_000 });
    keep(next.accessToken, next.expiresAt ? timestampMs(next.expiresAt) : Date.now() + 60_000, next.refreshToken);
    return next.accessToken;
  } catch (error) {
    if (error instanceof EdgeError && error.code === Code.Unauthenticated) {
      signedOut(error.message);
      return undefined;
    }
    throw error; // The client reports it and asks again after a backoff.
  }
}

function keep(accessToken: string, expiresAtMs: number, refreshToken: string): void {
  session = { accessToken, expiresAtMs, lifetimeMs: Math.max(1_000, expiresAtMs - Date.now()), refreshToken };
}

function signedOut(reason: string): void {
  session = undefined;
  const banner = $("session");
  banner.textContent = `Signed out: ${reason} Log in again to trade; prices and chat stay live.`;
  banner.hidden = false;
  $("order-form").hidden = true;
  $("chat-form").hidden = true;
}

// Binary frames: the quotes of a busy page in about 40 % of the bytes, decoded with the generated schemas.
const client = createEdgeClient({ baseUrl: location.origin, encoding: "proto", getToken });
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const money = (n: number) => n.toLocaleString("en-US", { style: "currency", currency: "USD" });
let accountId = "";
const latencies: number[] = [];

client.onConnectionStateChange((state: ConnectionState) => {
  $("connection").dataset["state"] = state;
  if (state === "open") $("connection").dataset["transport"] = "websocket";
  $("connection-state").textContent = state === "reconnecting" && $("connection").dataset["transport"] === "http" ? "live over HTTP" : state;
});
// A close the client will not retry (the edge refused the page, or the page broke a limit): say why, once.
client.on("closed", ({ code, error }) => {
  if (error) $("connection-state").textContent = `closed (${code}): ${error.message}`;
});
client.on("signedOut", ({ error }) => signedOut(error.message));
// WebSockets blocked on the way (a proxy): the streams continue over HTTP (server-sent events) until a socket opens.
client.on("transport", ({ transport }) => {
  $("connection").dataset["transport"] = transport;
  if (transport === "http") $("connection-state").textContent = "live over HTTP";
});

$<HTMLFormElement>("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = $<HTMLInputElement>("username").value;
  const password = $<HTMLInputElement>("password").value;
  try {
    const login = await client.call(AuthService.method.login, { username, password });
    keep(login.accessToken, login.expiresAt ? timestampMs(login.expiresAt) : Date.now() + 60_000, login.refreshToken);
    accountId = login.accountId;
    $("user").textContent = `${username} · ${accountId}`;
    $("login").hidden = true;
    // The socket that carried public quotes takes the token (an auth frame): the same socket, now signed in.
    await client.refreshToken();
    for (const card of document.querySelectorAll<HTMLElement>(".private")) card.hidden = false;
    await start();
  } catch (error) {
    $("login-error").textContent = error instanceof EdgeError ? error.message : String(error);
  }
});

// Public: the quotes are live before anyone logs in.
async function startQuotes(): Promise<void> {
  const symbols = await client.call(MarketDataService.method.listSymbols, {});
  const body = $<HTMLTableElement>("quotes").tBodies[0]!;
  const select = $<HTMLSelectElement>("order-symbol");
  for (const info of symbols.symbols) {
    const row = body.insertRow();
    row.dataset["symbol"] = info.symbol;
    row.title = info.name;
    for (let i = 0; i < 5; i++) row.insertCell();
    row.cells[0]!.textContent = info.symbol;
    select.add(new Option(info.symbol, info.symbol));
  }
  client.subscribe(MarketDataService.method.streamQuotes, {}, { next: (m) => m.quote && showQuote(m.quote) });
}

void startQuotes();

async function start(): Promise<void> {
  client.subscribe(TradingService.method.streamOrderUpdates, { accountId }, {
    next: (m) => m.update && showOrderUpdate(m.update),
    error: (e) => ($("order-result").textContent = `Order updates stopped: ${e.message}`),
  });
  void converse();
  await refreshPortfolio();
}

// The chat: one bidirectional stream (ChatService/Converse) carries the room's messages and typing both ways. It
// cannot resume by itself (what was sent cannot be replayed), so when it ends — the socket moved, a replica died —
// the page opens it again from the last message it showed; signed out, it reads the room (StreamRoom) instead.
let conversation: DuplexStream<typeof ConverseRequestSchema, typeof ConverseResponseSchema> | undefined;
let lastChatSequence = 0n;
let typing = false;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
const typists = new Set<string>();

/** Resolves when the socket is open (at once if it is). */
function untilOpen(): Promise<void> {
  return new Promise((resolve) => {
    const off = client.onConnectionStateChange((state) => {
      if (state === "open") {
        queueMicrotask(() => off());
        resolve();
      }
    });
  });
}

async function converse(): Promise<void> {
  let failures = 0;
  while (session) {
    if (client.connectionState !== "open") {
      // No socket (blocked, or reconnecting): read the room as a plain stream — over HTTP if need be — and post over REST.
      $("chat-transport").textContent = "";
      readRoom();
      await untilOpen();
      if (!session) break;
    }
    roomSubscription?.unsubscribe();
    roomSubscription = undefined;
    const talk = client.open(ChatService.method.converse);
    conversation = talk;
    $("chat-transport").textContent = "over the socket";
    talk.send({ event: { case: "join", value: { room: ROOM, afterSequence: lastChatSequence } } });
    try {
      for await (const reply of talk) {
        failures = 0;
        if (reply.event.case === "message") showChat(reply.event.value);
        else if (reply.event.case === "typing") showTyping(reply.event.value);
      }
    } catch (error) {
      if (error instanceof EdgeError && error.code === Code.Unauthenticated) break;
    } finally {
      conversation = undefined;
      typing = false;
      typists.clear();
      $("chat-typing").textContent = "";
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** failures++)));
  }
  $("chat-transport").textContent = "read-only";
  readRoom();
}

let roomSubscription: Subscription | undefined;

function readRoom(): void {
  roomSubscription?.unsubscribe();
  roomSubscription = client.subscribe(ChatService.method.streamRoom, { room: ROOM, afterSequence: lastChatSequence }, { next: (m) => m.message && showChat(m.message) });
}

function showTyping(indicator: TypingIndicator): void {
  if (indicator.active) typists.add(indicator.user);
  else typists.delete(indicator.user);
  const names = [...typists];
  $("chat-typing").textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
}

function setTyping(active: boolean): void {
  clearTimeout(typingTimer);
  if (active) typingTimer = setTimeout(() => setTyping(false), 3_000);
  if (active === typing || !conversation) return;
  typing = active;
  try {
    conversation.send({ event: { case: "typing", value: active } });
  } catch {
    // The stream just ended; the next one starts not typing.
  }
}

$<HTMLInputElement>("chat-text").addEventListener("input", (event) => setTyping((event.target as HTMLInputElement).value.trim().length > 0));

// Quotes arrive hundreds of times a second; the page renders at most once per frame, so a busy stream never
// starves input handling. Only the latest quote per symbol is kept between frames.
const pendingQuotes = new Map<string, Quote>();
let renderScheduled = false;

function showQuote(quote: Quote): void {
  if (quote.time) {
    latencies.push(Date.now() - timestampMs(quote.time));
    if (latencies.length > 200) latencies.shift();
  }
  pendingQuotes.set(quote.symbol, quote);
  if (!renderScheduled) {
    renderScheduled = true;
    requestAnimationFrame(renderQuotes);
  }
}

function renderQuotes(): void {
  renderScheduled = false;
  for (const quote of pendingQuotes.values()) renderQuote(quote);
  pendingQuotes.clear();
  if (latencies.length > 0) {
    const sorted = [...latencies].sort((a, b) => a - b);
    $("latency").textContent = `${Math.max(0, sorted[Math.floor(sorted.length / 2)] ?? 0)} ms p50`;
  }
}

function renderQuote(quote: Quote): void {
  const row = document.querySelector<HTMLTableRowElement>(`#quotes tr[data-symbol="${quote.symbol}"]`);
  if (!row) return;
  const previous = Number(row.dataset["price"] ?? quote.price);
  row.dataset["price"] = String(quote.price);
  row.dataset["sequence"] = String(quote.sequence);
  row.cells[1]!.textContent = quote.price.toFixed(2);
  row.cells[2]!.textContent = (quote.change >= 0 ? "+" : "") + quote.change.toFixed(2);
  row.cells[2]!.className = quote.change >= 0 ? "pos" : "neg";
  row.cells[3]!.textContent = quote.bid.toFixed(2);
  row.cells[4]!.textContent = quote.ask.toFixed(2);
  if (quote.price !== previous) {
    // Restart the flash animation by replacing the class on the next frame instead of forcing a layout.
    row.classList.remove("up", "down");
    const direction = quote.price > previous ? "up" : "down";
    requestAnimationFrame(() => row.classList.add(direction));
  }
}

function showOrderUpdate(update: OrderUpdate): void {
  const order = update.order;
  if (!order) return;
  const item = document.createElement("li");
  item.dataset["sequence"] = String(update.sequence);
  item.dataset["orderId"] = order.orderId;
  item.dataset["status"] = OrderStatus[order.status];
  const fill = order.status === OrderStatus.FILLED ? ` @ ${order.averageFillPrice.toFixed(2)}` : "";
  item.textContent = `#${update.sequence} ${OrderSide[order.side]} ${order.quantity} ${order.symbol} ${OrderStatus[order.status]}${fill}`;
  $("order-updates").prepend(item);
  if (order.status === OrderStatus.FILLED) void refreshPortfolio();
}

function showChat(message: ChatMessage): void {
  // A reopened stream starts after the last message shown; anything older is already on the page.
  if (message.sequence <= lastChatSequence) return;
  lastChatSequence = message.sequence;
  const item = document.createElement("li");
  item.dataset["sequence"] = String(message.sequence);
  const author = document.createElement("b");
  author.textContent = message.author;
  item.append(author, document.createTextNode(message.text));
  $("chat-messages").append(item);
  item.scrollIntoView({ block: "nearest" });
}

async function refreshPortfolio(): Promise<void> {
  const { portfolio } = await client.call(TradingService.method.getPortfolio, { accountId });
  if (!portfolio) return;
  $("cash").textContent = money(portfolio.cash);
  $("equity").textContent = money(portfolio.equity);
  const body = $<HTMLTableElement>("positions").tBodies[0]!;
  body.replaceChildren();
  for (const position of portfolio.positions) {
    const row = body.insertRow();
    row.dataset["symbol"] = position.symbol;
    for (const value of [position.symbol, String(position.quantity), position.averagePrice.toFixed(2), position.lastPrice.toFixed(2), position.unrealizedPnl.toFixed(2)]) {
      row.insertCell().textContent = value;
    }
  }
}

$<HTMLFormElement>("order-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { order } = await client.call(TradingService.method.placeOrder, {
      accountId,
      symbol: $<HTMLSelectElement>("order-symbol").value,
      side: $<HTMLSelectElement>("order-side").value === "sell" ? OrderSide.SELL : OrderSide.BUY,
      quantity: BigInt($<HTMLInputElement>("order-quantity").value || "1"),
    });
    $("order-result").textContent = order ? `Order ${order.orderId}: ${OrderStatus[order.status]}` : "";
  } catch (error) {
    $("order-result").textContent = error instanceof EdgeError ? error.message : String(error);
  }
});

$<HTMLFormElement>("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("chat-text");
  const text = input.value.trim();
  if (!text) return;
  try {
    if (conversation && client.connectionState === "open") {
      // Over the open conversation: the message comes back on it once stored, like everyone else's.
      conversation.send({ event: { case: "text", value: text } });
      setTyping(false);
    } else {
      await client.call(ChatService.method.postMessage, { room: ROOM, text });
    }
    input.value = "";
  } catch (error) {
    $("order-result").textContent = error instanceof EdgeError ? error.message : String(error);
  }
});
