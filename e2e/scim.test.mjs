// SCIM provisioning seen from the outside, against the real binary: a provider (Entra ID's
// request bodies) creates a user who signs in twice, deactivates them, reactivates them and
// deletes them. A relying party's back-channel logout endpoint gets a logout token for each
// session the deactivation ended, and an SSF poll stream gets account-disabled,
// account-enabled and account-purged for the user, once each. Every token is verified with `jose` from
// our JWKS.
//
// Usage: node scim.test.mjs   (API_BIN=path/to/api, E2E_DATABASE_URL=postgres://…)
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
const dir = mkdtempSync(join(tmpdir(), "hanko-e2e-scim-"));
const ISSUER = "https://auth.example.test";
const CLIENT_ID = "rp-client";
const RISC = "https://schemas.openid.net/secevent/risc/event-type";
const SCIM_JSON = "application/scim+json";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const [apiPort, adminPort, rpPort] = await Promise.all([freePort(), freePort(), freePort()]);
const api = `http://127.0.0.1:${apiPort}`;
const admin = `http://127.0.0.1:${adminPort}`;
const jwks = createRemoteJWKSet(new URL(`${api}/.well-known/jwks.json`));

// The relying party: validates each logout token as OIDC Back-Channel Logout 1.0 §2.6 says.
const logouts = [];
const rp = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", async () => {
    try {
      const token = new URLSearchParams(body).get("logout_token");
      const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: CLIENT_ID, typ: "logout+jwt" });
      if (!payload.events?.["http://schemas.openid.net/event/backchannel-logout"]) throw new Error("no logout event");
      if ("nonce" in payload) throw new Error("a nonce");
      logouts.push({ payload, kid: protectedHeader.kid });
      res.writeHead(200, { "cache-control": "no-store" }).end();
    } catch (e) {
      console.error(`logout token refused: ${e.message}`);
      res.writeHead(400).end();
    }
  });
});
await new Promise((r) => rp.listen(rpPort, "127.0.0.1", r));

const configPath = join(dir, "config.yaml");
writeFileSync(configPath, JSON.stringify({
  server: { public: { address: `127.0.0.1:${apiPort}`, base_url: api }, admin: { address: `127.0.0.1:${adminPort}` } },
  database: { url: process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "scim.sqlite3")}` },
  secrets: { keys: ["scim-e2e-secret-0123456789abcdef"] },
  session: { issuer: ISSUER },
  scim: { enabled: true },
  ssf: { enabled: true },
  webhooks: {
    hooks: [{ name: "rp", url: `http://127.0.0.1:${rpPort}/logout`, events: ["user", "session"], format: "backchannel_logout", audience: [CLIENT_ID] }],
    initial_backoff: "100ms",
  },
  log: { level: "warn" },
}));
const server = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });

async function call(method, url, { token, body, scim = false } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = scim ? SCIM_JSON : "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), json: text ? JSON.parse(text) : null, text };
}

async function expect(status, method, url, options) {
  const res = await call(method, url, options);
  if (res.status !== status) throw new Error(`${method} ${url}: ${res.status} (expected ${status}): ${res.text}`);
  return res;
}

try {
  await untilReady(api, server);
  const scimToken = (await expect(201, "POST", `${admin}/scim/clients`, { body: { name: "entra-id" } })).json.token;
  const receiver = (await expect(201, "POST", `${admin}/ssf/receivers`, { body: { name: "risk", audience: "https://risk.example" } })).json.token;
  const stream = (await expect(201, "POST", `${api}/ssf/stream`, {
    token: receiver,
    body: { delivery: { method: "urn:ietf:rfc:8936" }, events_requested: [`${RISC}/account-disabled`, `${RISC}/account-enabled`, `${RISC}/account-purged`] },
  })).json;
  const pollUrl = stream.delivery.endpoint_url;
  const scim = (method, path, body) => call(method, `${api}/scim/v2${path}`, { token: scimToken, body, scim: true });

  const miss = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "e2e.user@contoso.test"')}`);
  check(miss.status === 200 && miss.json.totalResults === 0 && miss.type === SCIM_JSON, "a filter miss before the create, in application/scim+json");
  const created = await scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    externalId: "e2e-ext-1",
    userName: "e2e.user@contoso.test",
    active: true,
    emails: [{ primary: true, type: "work", value: "e2e.user@contoso.test" }],
    meta: { resourceType: "User" },
    name: { formatted: "E2E User", familyName: "User", givenName: "E2E" },
    roles: [],
  });
  check(created.status === 201, `the user is created (${created.status})`);
  const id = created.json.id;

  const sessions = [];
  for (let i = 0; i < 2; i++) sessions.push((await expect(200, "POST", `${admin}/sessions`, { body: { user_id: id } })).json);
  const disabled = await scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: "False" }],
  });
  check(disabled.status === 200 && disabled.json.active === false, "Entra ID's PATCH deactivates");
  for (const s of sessions) {
    const me = await call("GET", `${api}/me`, { token: s.session_token });
    check(me.status === 401, "a deactivated user's token answers 401 at once");
  }
  const refused = await call("POST", `${admin}/sessions`, { body: { user_id: id } });
  check(refused.status === 409, "no new session for a deactivated user");

  const enabled = await scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: "True" }],
  });
  check(enabled.status === 200 && enabled.json.active === true, "and reactivates");
  check((await scim("DELETE", `/Users/${id}`)).status === 204, "DELETE answers 204");
  check((await scim("GET", `/Users/${id}`)).status === 404, "then the user is 404");

  // Logout tokens: one per ended session, naming it.
  for (let i = 0; logouts.length < 2; i++) {
    if (i > 100) throw new Error(`logout tokens: ${logouts.length} of 2`);
    await sleep(100);
  }
  const sids = logouts.filter((l) => l.payload.sid).map((l) => l.payload.sid).sort();
  check(JSON.stringify(sids) === JSON.stringify(sessions.map((s) => s.session_id).sort()), "a verified logout token for each session the deactivation ended");
  check(logouts.every((l) => l.payload.sub === id), "each names the user");

  // The SSF stream: disabled, enabled, purged, in that order, each a verified SET.
  const types = [];
  for (let i = 0; types.length < 3; i++) {
    if (i > 100) throw new Error(`SETs: ${types.join(", ")}`);
    const batch = (await expect(200, "POST", pollUrl, { token: receiver, body: { maxEvents: 10, returnImmediately: true } })).json;
    const ack = [];
    for (const [jti, set] of Object.entries(batch.sets)) {
      const { payload } = await jwtVerify(set, jwks, { issuer: ISSUER, audience: "https://risk.example", typ: "secevent+jwt" });
      const type = Object.keys(payload.events)[0];
      if (payload.sub_id?.id === id) types.push({ type, iat: payload.iat, jti });
      ack.push(jti);
    }
    if (ack.length) await expect(200, "POST", pollUrl, { token: receiver, body: { ack, maxEvents: 0, returnImmediately: true } });
    else await sleep(100);
  }
  // A poll answers SETs as a JSON object: no order among them (RFC 8936 §2.3).
  const names = types.map((t) => t.type.replace(`${RISC}/`, "")).sort();
  check(JSON.stringify(names) === JSON.stringify(["account-disabled", "account-enabled", "account-purged"]),
    `the stream hears account-disabled, account-enabled and account-purged, once each (${names.join(", ")})`);
} finally {
  server.kill();
  rp.close();
}
