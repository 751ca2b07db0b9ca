// Validates EdgeBridge's generated API documents with real validators, and optionally real responses
// against their documented schemas (contract tests).
//   node tools/validate-documents.mjs <openapi.json> <asyncapi.json> [<samples.json>]
// samples.json: [{ "openapi": "<operationId>", "status": "200", "body": {...} } | { "asyncapi": "<message name>", "frame": {...} }]
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Parser } from "@asyncapi/parser";
import Ajv2020 from "ajv/dist/2020.js";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const [openapiPath, asyncapiPath, samplesPath] = process.argv.slice(2);
const openapi = JSON.parse(await readFile(openapiPath, "utf8"));
const asyncapi = JSON.parse(await readFile(asyncapiPath, "utf8"));
const problems = [];

const openapiResult = await new Validator().validate(structuredClone(openapi));
if (!openapiResult.valid) problems.push("OpenAPI: " + JSON.stringify(openapiResult.errors, null, 1));

const { diagnostics } = await new Parser().parse(JSON.stringify(asyncapi));
for (const d of diagnostics.filter((d) => d.severity === 0)) problems.push(`AsyncAPI: ${d.message} at ${d.path.join("/")}`);

if (samplesPath) {
  const samples = JSON.parse(await readFile(samplesPath, "utf8"));
  const ajvOpenApi = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajvOpenApi.addSchema(openapi, "openapi.json");
  const ajvAsyncApi = addFormats(new Ajv({ strict: false, allErrors: true }));
  ajvAsyncApi.addSchema(asyncapi, "asyncapi.json");
  const operations = new Map();
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [verb, op] of Object.entries(item)) operations.set(op.operationId, { path, verb });
  }
  for (const sample of samples) {
    if (sample.openapi) {
      const op = operations.get(sample.openapi);
      if (!op) { problems.push(`no operation ${sample.openapi}`); continue; }
      const pointer = ["paths", op.path, op.verb, "responses", sample.status, "content", "application/json", "schema"]
        .map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
      const validate = ajvOpenApi.getSchema(`openapi.json#/${pointer}`);
      if (!validate(sample.body)) problems.push(`${sample.openapi}: ${ajvOpenApi.errorsText(validate.errors)} in ${JSON.stringify(sample.body).slice(0, 400)}`);
    } else if (sample.asyncapi) {
      const pointer = ["components", "messages", sample.asyncapi, "payload"].map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
      const validate = ajvAsyncApi.getSchema(`asyncapi.json#/${pointer}`);
      if (!validate) { problems.push(`no message ${sample.asyncapi}`); continue; }
      if (!validate(sample.frame)) problems.push(`${sample.asyncapi}: ${ajvAsyncApi.errorsText(validate.errors)} in ${JSON.stringify(sample.frame).slice(0, 400)}`);
    }
  }
  console.log(`validated ${samples.length} samples`);
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("documents valid");
