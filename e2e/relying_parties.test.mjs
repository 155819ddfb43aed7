// Relying parties, against the real binary: a back-channel logout endpoint written from OpenID
// Connect Back-Channel Logout 1.0 §2.6 (not from our code) validates every logout token with
// `jose` and our JWKS, for a logout, an operator ending a session, a scheduled deletion and an
// account deletion; a second relying party answers 400 (as §2.8 says to when validation fails)
// and its deliveries end at one attempt.
//
// Usage: node relying_parties.test.mjs   (API_BIN=path/to/api, E2E_DATABASE_URL=postgres://…)
import { spawn } from "node:child_process";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { check, freePort, untilReady } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const apiBin = process.env.API_BIN ?? join(here, "..", "target", "debug", "api");
const ISSUER = "https://auth.example.test";
const CLIENT_ID = "rp-client-1";
const BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const [apiPort, adminPort, rpPort] = [await freePort(), await freePort(), await freePort()];
const api = `http://127.0.0.1:${apiPort}`;
const admin = `http://127.0.0.1:${adminPort}`;
const jwks = createRemoteJWKSet(new URL(`${api}/.well-known/jwks.json`));

// ---- The relying party's back-channel logout endpoint (OIDC Back-Channel Logout 1.0).
const seenJti = new Set();
const accepted = []; // validated logout tokens' claims
const refusedByUs = []; // tokens this relying party found invalid (must stay empty)
let refusingAttempts = 0; // requests to the relying party that refuses everything

/** §2.6, step by step. Returns the claims, or throws with the step that failed. */
async function validateLogoutToken(token) {
  // Steps 2-4: the signature with the OP's published keys, an algorithm the OP uses (never
  // `none`), `iss` and `aud` as for an ID token, and `iat`; `exp` (errata 1) and the
  // explicit type `logout+jwt` (§2.4, recommended) too.
  const { payload } = await jwtVerify(token, jwks, {
    issuer: ISSUER,
    audience: CLIENT_ID,
    algorithms: ["RS256", "ES256", "EdDSA"],
    typ: "logout+jwt",
    requiredClaims: ["iat", "exp", "jti"],
    maxTokenAge: "2 minutes",
  });
  // Step 5: a `sub`, a `sid`, or both.
  if (typeof payload.sub !== "string" && typeof payload.sid !== "string") throw new Error("step 5: no sub and no sid");
  // Step 6: an `events` object with the back-channel logout member, itself a JSON object.
  const event = payload.events?.[BACKCHANNEL_LOGOUT];
  if (typeof payload.events !== "object" || event === null || typeof event !== "object" || Array.isArray(event)) {
    throw new Error("step 6: no back-channel logout event");
  }
  // Step 7: no `nonce`, so a logout token can never be replayed as an ID token.
  if ("nonce" in payload) throw new Error("step 7: a nonce");
  // Step 8: a `jti` not seen before.
  if (seenJti.has(payload.jti)) throw new Error(`step 8: jti ${payload.jti} replayed`);
  seenJti.add(payload.jti);
  return payload;
}

const rp = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    if (req.url === "/refusing/logout") {
      refusingAttempts++;
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"invalid_request"}');
      return;
    }
    // §2.5: a form-encoded POST with `logout_token`.
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    const token = form.get("logout_token");
    try {
      if (req.method !== "POST" || !req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded") || !token) {
        throw new Error("§2.5: not a form POST with logout_token");
      }
      accepted.push(await validateLogoutToken(token));
      // §2.8: 200 once the logout succeeded; no caching.
      res.writeHead(200, { "cache-control": "no-store" }).end();
    } catch (e) {
      refusedByUs.push(e.message);
      res.writeHead(400, { "content-type": "application/json", "cache-control": "no-store" })
        .end(JSON.stringify({ error: "invalid_request", error_description: e.message }));
    }
  });
});
await new Promise((r) => rp.listen(rpPort, "127.0.0.1", r));

const dir = mkdtempSync(join(tmpdir(), "hanko-e2e-rp-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, JSON.stringify({
  server: { public: { address: `127.0.0.1:${apiPort}` }, admin: { address: `127.0.0.1:${adminPort}` } },
  database: { url: process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "rp.sqlite3")}` },
  secrets: { keys: ["relying-parties-e2e-secret-0123456789"] },
  session: { issuer: ISSUER },
  account: { allow_deletion: true, deletion: { grace_period: "1h" } },
  webhooks: {
    hooks: [
      { name: "rp", url: `http://127.0.0.1:${rpPort}/logout`, events: ["user", "session"], format: "backchannel_logout", audience: [CLIENT_ID] },
      { name: "refusing-rp", url: `http://127.0.0.1:${rpPort}/refusing/logout`, events: ["user", "session"], format: "backchannel_logout", audience: ["rp-client-2"] },
    ],
    initial_backoff: "100ms",
  },
  log: { level: "warn" },
}));

const server = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
try {
  await untilReady(api, server);
  async function call(method, url, body, token) {
    const headers = {};
    if (body) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  const user = await call("POST", `${admin}/users`, { emails: [{ address: "rp.e2e@example.com", is_primary: true, is_verified: true }] });
  const sessions = [];
  for (let i = 0; i < 3; i++) sessions.push(await call("POST", `${admin}/sessions`, { user_id: user.id }));
  await call("POST", `${api}/logout`, null, sessions[0].session_token); // a logout
  await call("DELETE", `${admin}/users/${user.id}/sessions/${sessions[1].session_id}`); // an operator
  await call("DELETE", `${api}/user`, null, sessions[2].session_token); // a scheduled deletion
  await call("POST", `${admin}/users/${user.id}/restore`); // cancelled: ends nothing, not sent
  await call("DELETE", `${admin}/users/${user.id}`); // the account deleted

  for (let i = 0; accepted.length + refusedByUs.length < 4 || refusingAttempts < 4; i++) {
    if (i > 300) throw new Error(`logout tokens missing: ${accepted.length} accepted, ${refusedByUs.length} refused, ${refusingAttempts} to the refusing RP`);
    await sleep(100);
  }
  await sleep(1500); // anything more would be a retry or an extra token
  check(refusedByUs.length === 0, `every logout token passes §2.6 (${refusedByUs.join("; ")})`);
  check(accepted.length === 4, `four logout tokens: a logout, an operator's revocation, a scheduled deletion, a deletion (${accepted.length})`);
  check(accepted.every((c) => c.sub === user.id), "each names the user as sub");
  const sids = accepted.map((c) => c.sid ?? null).sort();
  const expected = [null, null, sessions[0].session_id, sessions[1].session_id].sort();
  check(JSON.stringify(sids) === JSON.stringify(expected), "sid for each ended session; none when the whole user is gone");
  check(accepted.every((c) => c.exp - c.iat === 120), "each valid for two minutes");
  check(refusingAttempts === 4, `a relying party answering 400 hears each logout once, never again (${refusingAttempts})`);
  const dead = await call("GET", `${admin}/webhooks/deliveries?status=dead&per_page=100`);
  const refused = dead.filter((d) => d.hook === "refusing-rp");
  check(refused.length === 4 && refused.every((d) => d.attempts === 1), "its deliveries are dead after one attempt");
  console.log("relying parties test passed");
} finally {
  server.kill("SIGTERM");
  rp.close();
}
