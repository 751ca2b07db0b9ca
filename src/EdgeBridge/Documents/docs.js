// Renders the two documents and lets a developer try a REST call or a subscription. No third-party code.
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
  for (const [name, op] of Object.entries(asyncapi.operations)) {
    if (!op["x-edgebridge-policy"]) continue;
    const request = el("textarea", { rows: 3, cols: 60, value: "{}" });
    const output = el("pre");
    const run = el("button", { textContent: "Subscribe" });
    run.addEventListener("click", () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}${asyncapi.channels.edgebridge.address}`, ["edgebridge.v1"]);
      let count = 0;
      socket.onopen = () => {
        socket.send(JSON.stringify(token() ? { type: "init", token: token() } : { type: "init" }));
        socket.send(JSON.stringify({ type: "subscribe", id: "try", method: op.title, request: JSON.parse(request.value || "{}") }));
      };
      socket.onmessage = (event) => {
        output.textContent = `${event.data}\n${output.textContent}`.slice(0, 20000);
        if (++count >= 20) socket.close();
      };
      socket.onclose = (event) => (output.textContent = `closed ${event.code}\n${output.textContent}`);
    });
    streams.append(el("section", { className: "operation", id: name },
      el("h3", { textContent: op.title }),
      el("p", { textContent: op.description ?? "" }),
      el("pre", { textContent: pretty(op["x-edgebridge-policy"]) }),
      request, run, output));
  }
}

main().catch((error) => document.body.append(el("pre", { textContent: String(error) })));
