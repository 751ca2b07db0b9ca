// Renders the two documents and lets a developer try each operation: REST calls, subscriptions (over the socket or
// as server-sent events), calls over the socket, and client or bidirectional streams. No third-party code.
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const token = () => document.getElementById("token").value.trim();
const pretty = (value) => JSON.stringify(value, null, 2);

const style = document.createElement("link");
document.head.append(style);
document.documentElement.lang = "en";

async function main() {
  const [openapi, asyncapi] = await Promise.all([
    fetch("/openapi/v1.json").then((r) => r.json()),
    fetch("/asyncapi/v1.json").then((r) => r.json()),
  ]);

  const rest = document.getElementById("rest");
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [verb, op] of Object.entries(item)) {
      const inputs = {};
      const params = (op.parameters ?? []).map((p) => {
        inputs[p.name] = el("input", { placeholder: p.name, title: p.description ?? "" });
        inputs[p.name].dataset.in = p.in;
        return el("label", {}, `${p.name} (${p.in}) `, inputs[p.name], " ");
      });
      const body = op.requestBody ? el("textarea", { rows: 4, cols: 60, value: "{}" }) : null;
      const output = el("pre");
      const run = el("button", { textContent: "Try" });
      run.addEventListener("click", async () => {
        let url = path;
        const query = new URLSearchParams();
        for (const [name, input] of Object.entries(inputs)) {
          if (input.dataset.in === "path") url = url.replace(`{${name}}`, encodeURIComponent(input.value));
          else if (input.value) query.append(name, input.value);
        }
        const headers = { accept: "application/json" };
        if (token()) headers.authorization = `Bearer ${token()}`;
        if (body) headers["content-type"] = "application/json";
        const response = await fetch(url + (query.size ? `?${query}` : ""), { method: verb.toUpperCase(), headers, body: body ? body.value : undefined });
        const text = await response.text();
        output.textContent = `${response.status}\n${text ? pretty(JSON.parse(text)) : ""}`;
      });
      rest.append(el("section", { className: "operation", id: op.operationId },
        el("h3", {}, `${verb.toUpperCase()} ${path}`, op.security ? " 🔒" : ""),
        el("p", { textContent: op.description ?? "" }),
        ...params, body ?? "", run, output));
    }
  }

  const streams = document.getElementById("streams");
  const address = asyncapi.channels.edgebridge.address;
  // A socket of its own per try: init, then what the operation sends; every frame received is shown, newest first.
  const trySocket = (output, first) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${address}`, ["edgebridge.v1"]);
    const show = (line) => (output.textContent = `${line}\n${output.textContent}`.slice(0, 20000));
    let count = 0;
    socket.onopen = () => {
      socket.send(JSON.stringify(token() ? { type: "init", token: token() } : { type: "init" }));
      first(socket);
    };
    socket.onmessage = (event) => {
      show(event.data);
      if (++count >= 50) socket.close();
    };
    socket.onclose = (event) => show(`closed ${event.code}`);
    return socket;
  };
  for (const [name, op] of Object.entries(asyncapi.operations)) {
    const policy = op["x-edgebridge-policy"];
    const isCall = name.endsWith(".call");
    if (!policy && !isCall) continue;
    const output = el("pre");
    const controls = [];
    if (isCall) {
      const request = el("textarea", { rows: 3, cols: 60, value: "{}" });
      const run = el("button", { textContent: "Call" });
      run.addEventListener("click", () => trySocket(output, (socket) =>
        socket.send(JSON.stringify({ type: "call", id: "try", method: op.title, request: JSON.parse(request.value || "{}") }))));
      controls.push(request, run);
    } else if (policy.kind === "server") {
      const request = el("textarea", { rows: 3, cols: 60, value: "{}" });
      const run = el("button", { textContent: "Subscribe" });
      run.addEventListener("click", () => trySocket(output, (socket) =>
        socket.send(JSON.stringify({ type: "subscribe", id: "try", method: op.title, request: JSON.parse(request.value || "{}") }))));
      // The same stream as server-sent events over plain HTTP, the token in a header.
      const path = Object.keys(openapi.paths).find((p) => p.endsWith(`/${op.title}`));
      const sse = el("button", { textContent: "As server-sent events" });
      sse.addEventListener("click", async () => {
        const headers = { accept: "text/event-stream", "content-type": "application/json" };
        if (token()) headers.authorization = `Bearer ${token()}`;
        const abort = new AbortController();
        const response = await fetch(path, { method: "POST", headers, body: request.value || "{}", signal: abort.signal });
        output.textContent = `${response.status}\n`;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (let events = 0; events < 20;) {
          const { value, done } = await reader.read();
          if (done) break;
          output.textContent += value;
          events += value.split("\n\n").length - 1;
        }
        abort.abort();
      });
      controls.push(request, run, sse);
    } else {
      // Client-streaming or bidirectional: open, then send messages one at a time, then end.
      const message = el("textarea", { rows: 3, cols: 60, value: "{}" });
      const open = el("button", { textContent: "Open" });
      const send = el("button", { textContent: "Send", disabled: true });
      const end = el("button", { textContent: "End", disabled: true });
      let socket;
      open.addEventListener("click", () => {
        socket = trySocket(output, (s) => {
          s.send(JSON.stringify({ type: "subscribe", id: "try", method: op.title }));
          send.disabled = end.disabled = false;
        });
      });
      send.addEventListener("click", () => socket.send(JSON.stringify({ type: "send", id: "try", message: JSON.parse(message.value || "{}") })));
      end.addEventListener("click", () => socket.send(JSON.stringify({ type: "end", id: "try" })));
      controls.push(open, message, send, end);
    }
    streams.append(el("section", { className: "operation", id: name },
      el("h3", { textContent: op.title + (isCall ? " (call)" : "") }),
      el("p", { textContent: op.description ?? "" }),
      policy ? el("pre", { textContent: pretty(policy) }) : "",
      ...controls, output));
  }
}

main().catch((error) => document.body.append(el("pre", { textContent: String(error) })));
