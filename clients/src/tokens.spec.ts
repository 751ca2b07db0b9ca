import { test } from "node:test";
import assert from "node:assert/strict";
import { fetchToken, refreshDelay, tokenSubject } from "./tokens.js";

const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`;

test("a getToken() that hangs fails after the deadline instead of stalling the connection", async () => {
  await assert.rejects(fetchToken(() => new Promise<string>(() => {}), 20), /did not answer within 20 ms/);
});

test("a getToken() that throws synchronously becomes a rejection", async () => {
  await assert.rejects(fetchToken(() => {
    throw new Error("no session");
  }), /no session/);
});

test("refresh a fifth of the lifetime before expiry, at least a second and at most a minute before", () => {
  const now = 1_000_000_000_000;
  const at = (lifetimeSeconds: number) => refreshDelay(jwt({ iat: now / 1000, exp: now / 1000 + lifetimeSeconds }), now);
  assert.equal(at(30), 24_000);
  assert.equal(at(3), 2_000);
  assert.equal(at(3600), 3_540_000);
  assert.equal(refreshDelay("not-a-jwt", now), undefined);
  assert.equal(tokenSubject(jwt({ sub: "alice" })), "alice");
});
