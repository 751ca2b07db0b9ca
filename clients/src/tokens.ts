/** Supplies the access token: called at every connect, before the current token expires, and for REST calls. */
export type TokenSource = () => string | undefined | Promise<string | undefined>;

/** A `getToken()` that has not answered after this long is treated as failed. */
export const tokenTimeoutMs = 10_000;

/** Calls `source` with a deadline; a throw, a rejection or a hang becomes an Error. */
export async function fetchToken(source: TokenSource | undefined, timeoutMs = tokenTimeoutMs): Promise<string | undefined> {
  if (!source) {
    return undefined;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(source),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`getToken() did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `exp` and `iat` claims of a JWT, in milliseconds; undefined for anything else. */
export function tokenTimes(token: string | undefined): { expiresAt: number; issuedAt: number | undefined } | undefined {
  const claims = decodeClaims(token);
  return typeof claims?.["exp"] === "number"
    ? { expiresAt: claims["exp"] * 1000, issuedAt: typeof claims["iat"] === "number" ? claims["iat"] * 1000 : undefined }
    : undefined;
}

/**
 * When to ask for a new token: a fifth of its lifetime before it expires (at most 60 s, at least 1 s before), so that
 * the `auth` frame reaches the edge in time even for short tokens. Undefined when the token has no readable expiry.
 */
export function refreshDelay(token: string | undefined, now = Date.now()): number | undefined {
  const times = tokenTimes(token);
  if (!times) {
    return undefined;
  }
  const lifetime = times.issuedAt !== undefined ? times.expiresAt - times.issuedAt : 5 * 60_000;
  const margin = Math.min(60_000, Math.max(1_000, lifetime / 5));
  return Math.max(0, times.expiresAt - margin - now);
}

/** The `sub` claim of a JWT: whose token it is. */
export function tokenSubject(token: string | undefined): string | undefined {
  const subject = decodeClaims(token)?.["sub"];
  return typeof subject === "string" ? subject : undefined;
}

// The client reads claims only to schedule refreshes and notice a user change; the edge verifies the token.
function decodeClaims(token: string | undefined): Record<string, unknown> | undefined {
  const payload = token?.split(".")[1];
  if (!payload) {
    return undefined;
  }
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const claims: unknown = JSON.parse(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)));
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
