#!/usr/bin/env node
// protoc-gen-edgebridge: for every service of the contract, which methods the edge exposes — unary methods with a
// google.api.http rule (REST), server-streaming methods with the edgebridge.v1.stream option (the WebSocket), and
// client-streaming and bidirectional methods with it (the WebSocket only).
// Writes <file>_edge.ts next to protoc-gen-es's <file>_pb.ts; createServiceClient() takes it, so that calling a
// method the contract does not expose is a compile-time error.
import { createEcmaScriptPlugin, runNodeJs } from "@bufbuild/protoplugin";

// The options are read by field number: google.api.http and edgebridge.v1.stream, as extensions of MethodOptions.
const HTTP = 72295728;
const STREAM = 50701;
const has = (method, number) => (method.proto.options?.$unknown ?? []).some((field) => field.no === number);

function generateTs(schema) {
  for (const file of schema.files) {
    const services = file.services.map((service) => ({
      service,
      rest: service.methods.filter((m) => m.methodKind === "unary" && has(m, HTTP)).map((m) => m.localName),
      streams: service.methods.filter((m) => m.methodKind === "server_streaming" && has(m, STREAM)).map((m) => m.localName),
      duplex: service.methods.filter((m) => (m.methodKind === "bidi_streaming" || m.methodKind === "client_streaming") && has(m, STREAM)).map((m) => m.localName),
    })).filter((s) => s.rest.length + s.streams.length + s.duplex.length > 0);
    if (services.length === 0) {
      continue;
    }
    const out = schema.generateFile(`${file.name}_edge.ts`);
    out.preamble(file);
    for (const { service, rest, streams, duplex } of services) {
      const desc = out.importSchema(service);
      out.print("/**");
      out.print(` * What the edge exposes of ${service.typeName}: REST methods (google.api.http) and WebSocket streams (edgebridge.v1.stream).`);
      out.print(" */");
      out.print("export const ", service.name, "Edge = {");
      out.print("  service: ", desc, ",");
      out.print("  rest: [", rest.map((name) => JSON.stringify(name)).join(", "), "],");
      out.print("  streams: [", streams.map((name) => JSON.stringify(name)).join(", "), "],");
      out.print("  duplex: [", duplex.map((name) => JSON.stringify(name)).join(", "), "],");
      out.print("} as const;");
      out.print();
    }
  }
}

runNodeJs(createEcmaScriptPlugin({ name: "protoc-gen-edgebridge", version: "v0.1.0", generateTs }));
