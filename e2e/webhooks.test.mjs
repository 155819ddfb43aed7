// Receivers that verify our events with the official libraries, against the real binary:
// - a `standard` hook with two secrets: the `standardwebhooks` library verifies every delivery
//   with either secret alone (rotation), and rejects it with a wrong one;
// - a `set` hook: `jose` verifies each Security Event Token with the public JWKS (typ, iss,
//   aud, jti) and finds the RISC account-purged event for a deletion and the CAEP
//   session-revoked event for a logout;
// - a `hanko` hook: its token verifies with the hook audience, and jose configured like a
//   session-token consumer (session audience) refuses it.
//
// Usage: node webhooks.test.mjs   (API_BIN=path/to/api, default ../target/debug/api)
import { spawn } from "node:child_process";
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from "jose";
import { Webhook } from "standardwebhooks";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { check, freePort, untilReady } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const apiBin = process.env.API_BIN ?? join(here, "..", "target", "debug", "api");


// One local receiver for the three hooks; each delivery is kept with its raw body and headers.
const received = { standard: [], set: [], hanko: [] };
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const kind = req.url.slice(1);
    received[kind]?.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
    res.writeHead(kind === "set" ? 202 : 200).end();
  });
});
const receiverPort = await freePort();
await new Promise((r) => receiver.listen(receiverPort, "127.0.0.1", r));
const hooks = `http://127.0.0.1:${receiverPort}`;

const whsec = () => `whsec_${randomBytes(32).toString("base64")}`;
const [oldSecret, newSecret, wrongSecret] = [whsec(), whsec(), whsec()];
const issuer = "https://auth.example";
const rpAudience = "https://rp.example";

const [apiPort, adminPort] = [await freePort(), await freePort()];
const api = `http://127.0.0.1:${apiPort}`;
const admin = `http://127.0.0.1:${adminPort}`;
const dir = mkdtempSync(join(tmpdir(), "hanko-e2e-hooks-"));
const configPath = join(dir, "config.yaml");
writeFileSync(
  configPath,
  `server:
  public:
    address: 127.0.0.1:${apiPort}
  admin:
    address: 127.0.0.1:${adminPort}
database:
  url: ${process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "e2e.sqlite3")}`}
secrets:
  keys: ["webhook-e2e-secret-0123456789"]
session:
  issuer: ${issuer}
account:
  allow_deletion: true
webhooks:
  hooks:
    - name: standard
      url: ${hooks}/standard
      events: [user, session]
      format: standard
      secrets: ["${oldSecret}", "${newSecret}"]
    - name: set
      url: ${hooks}/set
      events: [user, session]
      format: set
      audience: ["${rpAudience}"]
    - name: hanko
      url: ${hooks}/hanko
      events: [user.delete]
  initial_backoff: 100ms
log:
  level: warn
`,
);

const server = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
try {
  await untilReady(api, server);
  async function post(url, body) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
    return res.json();
  }
  const user = await post(`${admin}/users`, { emails: [{ address: "hooks.e2e@example.com", is_primary: true }] });
  const first = await post(`${admin}/sessions`, { user_id: user.id });
  const second = await post(`${admin}/sessions`, { user_id: user.id });
  const logout = await fetch(`${api}/logout`, { method: "POST", headers: { authorization: `Bearer ${first.session_token}` } });
  check(logout.status === 204, "logout");
  const deletion = await fetch(`${api}/user`, { method: "DELETE", headers: { authorization: `Bearer ${second.session_token}` } });
  check(deletion.status === 204, "DELETE /user");

  for (let i = 0; received.standard.length < 2 || received.set.length < 2 || received.hanko.length < 1; i++) {
    if (i > 300) throw new Error(`deliveries missing: ${JSON.stringify(Object.fromEntries(Object.entries(received).map(([k, v]) => [k, v.length])))}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // Standard Webhooks, verified by the official library.
  for (const delivery of received.standard) {
    for (const [name, secret] of [["the first secret", oldSecret], ["only the second secret", newSecret]]) {
      const event = new Webhook(secret).verify(delivery.body, delivery.headers);
      check(["user.delete", "session.delete"].includes(event.type), `standardwebhooks verifies ${event.type} with ${name}`);
    }
    let rejected = false;
    try { new Webhook(wrongSecret).verify(delivery.body, delivery.headers); } catch { rejected = true; }
    check(rejected, "standardwebhooks rejects the delivery with a wrong secret");
  }
  const standardTypes = received.standard.map((d) => JSON.parse(d.body).type).sort();
  check(JSON.stringify(standardTypes) === JSON.stringify(["session.delete", "user.delete"]), "one standard delivery per event");
  // Once each, where it is recorded: the receivers never failed, so every delivery is marked
  // delivered after one attempt and none is left to be sent again (a lost mark would show as a
  // pending delivery, re-sent only after its lease).
  let records = [];
  for (let i = 0; ; i++) {
    const res = await fetch(`${admin}/webhooks/deliveries`);
    if (!res.ok) throw new Error(`GET ${admin}/webhooks/deliveries: ${res.status} ${await res.text()}`);
    records = await res.json();
    if (records.length === 5 && records.every((r) => r.delivered_at)) break;
    if (i > 300) throw new Error(`deliveries not all marked delivered: ${JSON.stringify(records)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  check(records.every((r) => r.attempts === 1 && !r.dead), "every delivery recorded delivered after exactly one attempt (5 of 5)");
  check(received.standard.length === 2 && received.set.length === 2 && received.hanko.length === 1, "no receiver heard an event twice");

  // Security Event Tokens, verified by jose with the public JWKS.
  const jwks = createRemoteJWKSet(new URL(`${api}/.well-known/jwks.json`));
  const kinds = {};
  for (const delivery of received.set) {
    check(delivery.headers["content-type"] === "application/secevent+jwt", "SET pushed as application/secevent+jwt");
    const { payload, protectedHeader } = await jwtVerify(delivery.body, jwks, {
      issuer, audience: rpAudience, typ: "secevent+jwt", algorithms: ["RS256"],
    });
    check(protectedHeader.typ === "secevent+jwt", "the SET header says typ secevent+jwt");
    check(typeof payload.jti === "string" && payload.jti.length > 0, "the SET has a jti");
    check(payload.sub_id?.format === "opaque" && payload.sub_id.id === user.id, "sub_id names the user, opaquely");
    const types = Object.keys(payload.events);
    check(types.length === 1, "exactly one event per SET");
    kinds[types[0]] = payload.events[types[0]];
  }
  check("https://schemas.openid.net/secevent/risc/event-type/account-purged" in kinds, "RISC account-purged for the deletion");
  const revoked = kinds["https://schemas.openid.net/secevent/caep/event-type/session-revoked"];
  check(revoked && Number.isInteger(revoked.event_timestamp), "CAEP session-revoked, with event_timestamp, for the logout");

  // Hanko's envelope: a webhook token is never a session token.
  const { token } = JSON.parse(received.hanko[0].body);
  const { payload: hookClaims } = await jwtVerify(token, jwks, { audience: "hanko-webhooks", issuer });
  check(hookClaims.evt === "user.delete" && hookClaims.jti, "the hanko token verifies with its own audience and carries a jti");
  let refused = false;
  try { await jwtVerify(token, jwks, { audience: "localhost" }); } catch { refused = true; }
  check(refused, "jose configured with the session audience refuses the webhook token");
  check(decodeProtectedHeader(token).typ === "JWT", "the hanko token is a plain JWT");
  console.log("webhook receivers test passed");
} finally {
  server.kill("SIGTERM");
  receiver.close();
}
