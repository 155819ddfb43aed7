// An OpenID Shared Signals receiver, written from the SSF 1.0, RFC 8935 and RFC 8936 texts
// (not from our code), against the real binary. It walks the areas of the OpenID SSF
// transmitter test plan: metadata (every endpoint an absolute URL that answers); stream
// create/read/update/replace/delete and their negative cases (no token, a bad token, another
// receiver's stream, a duplicate or malformed configuration, an unknown stream); status (paused
// keeps events and delivers them on resume, disabled drops them); subjects with
// default_subjects NONE; verification with its state echoed; push delivery; poll delivery with
// acknowledgements. Every SET is verified with `jose` from our JWKS.
//
// Then two instances on one database, 200 deletions, two push streams and one poll stream: each
// stream gets 200 distinct account-purged SETs, none twice after acknowledgement, and the push
// stream whose receiver is down for the first half gets all 200 once it is back.
//
// Usage: node ssf.test.mjs   (API_BIN=path/to/api, E2E_DATABASE_URL=postgres://…)
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
const dir = mkdtempSync(join(tmpdir(), "hanko-e2e-ssf-"));
const ISSUER = "https://auth.example.test";
const PUSH = "urn:ietf:rfc:8935";
const POLL = "urn:ietf:rfc:8936";
const PURGED = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
const VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const servers = [];

async function startServer(name, { databaseUrl, defaultSubjects = "ALL", apiPort, adminPort }) {
  apiPort ??= await freePort();
  adminPort ??= await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, JSON.stringify({
    server: { public: { address: `127.0.0.1:${apiPort}`, base_url: api }, admin: { address: `127.0.0.1:${adminPort}` } },
    database: { url: databaseUrl },
    secrets: { keys: ["ssf-e2e-secret-0123456789abcdef"] },
    session: { issuer: ISSUER },
    account: { allow_deletion: true },
    // The receivers here are local: admitted as an operator admits internal ones.
    ssf: { enabled: true, default_subjects: defaultSubjects, push: { allow_networks: ["127.0.0.0/8"] } },
    webhooks: { initial_backoff: "100ms", max_attempts: 40, timeout: "2s" },
    log: { level: "warn" },
  }));
  const proc = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
  const server = { name, proc, api, admin: `http://127.0.0.1:${adminPort}` };
  servers.push(server);
  await untilReady(api, proc, name);
  return server;
}

/** A request; the answer's status and JSON (if any). */
async function call(method, url, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch {}
  return { status: res.status, json, text };
}

async function expect(status, method, url, options) {
  const res = await call(method, url, options);
  if (res.status !== status) throw new Error(`${method} ${url}: ${res.status} (expected ${status}): ${res.text}`);
  return res.json;
}

async function newReceiver(server, audience) {
  const created = await expect(201, "POST", `${server.admin}/ssf/receivers`, { body: { name: audience, audience } });
  return { token: created.token, audience };
}

async function deleteAUser(server, address) {
  const user = await expect(201, "POST", `${server.admin}/users`, { body: { emails: [{ address, is_primary: true, is_verified: true }] } });
  const session = await expect(200, "POST", `${server.admin}/sessions`, { body: { user_id: user.id } });
  await expect(204, "DELETE", `${server.api}/user`, { token: session.session_token });
  return user.id;
}

/** A SET, validated as RFC 8417/SSF say a receiver does: signature from the JWKS, typ, iss, aud. */
async function validateSet(jwks, token, audience) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer: ISSUER, audience, typ: "secevent+jwt", algorithms: ["RS256", "ES256", "EdDSA"],
  });
  if (typeof payload.jti !== "string" || typeof payload.events !== "object") throw new Error("not a SET");
  return payload;
}

/** A push endpoint (RFC 8935): records SETs, answers 202, or 503 while `down`. */
async function pushEndpoint(expectedAuthorization) {
  const port = await freePort();
  const endpoint = { url: `http://127.0.0.1:${port}/events`, received: [], down: false, refused: 0, wrongAuth: 0 };
  endpoint.server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (endpoint.down) {
        endpoint.refused++;
        return res.writeHead(503).end();
      }
      if (expectedAuthorization && req.headers.authorization !== expectedAuthorization) {
        endpoint.wrongAuth++;
        return res.writeHead(401).end();
      }
      if (req.headers["content-type"] !== "application/secevent+jwt") {
        return res.writeHead(400, { "content-type": "application/json" }).end('{"err":"invalid_request"}');
      }
      endpoint.received.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(202).end();
    });
  });
  await new Promise((r) => endpoint.server.listen(port, "127.0.0.1", r));
  return endpoint;
}

async function waitFor(what, done, seconds = 30) {
  for (let i = 0; !(await done()); i++) {
    if (i > seconds * 10) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const endpoints = [];
try {
  const main = await startServer("ssf", { databaseUrl: process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "ssf.sqlite3")}` });
  const jwks = createRemoteJWKSet(new URL(`${main.api}/.well-known/jwks.json`));

  // ---- Metadata: every endpoint an absolute URL that answers.
  const meta = await expect(200, "GET", `${main.api}/.well-known/ssf-configuration`);
  check(meta.spec_version === "1_0" && meta.issuer === ISSUER, "metadata: spec_version 1_0 and our issuer");
  check(JSON.stringify(meta.delivery_methods_supported.sort()) === JSON.stringify([PUSH, POLL].sort()), "metadata: push and poll");
  const alice = await newReceiver(main, "https://alice.example");
  const bob = await newReceiver(main, "https://bob.example");
  for (const key of ["jwks_uri", "configuration_endpoint", "status_endpoint", "add_subject_endpoint", "remove_subject_endpoint", "verification_endpoint"]) {
    const url = new URL(meta[key]); // throws unless absolute
    check(url.origin === main.api, `metadata: ${key} is an absolute URL of the transmitter`);
    const method = ["jwks_uri", "configuration_endpoint"].includes(key) ? "GET" : "POST";
    const res = await call(method, meta[key], { token: alice.token, body: method === "POST" ? {} : undefined });
    check([200, 400].includes(res.status), `metadata: ${key} answers (${method} ${res.status})`);
  }

  // ---- Streams: create, read, update, replace, delete, and what is refused.
  const alicePush = await pushEndpoint("Bearer alice-push-secret");
  endpoints.push(alicePush);
  const config = { delivery: { method: PUSH, endpoint_url: alicePush.url, authorization_header: "Bearer alice-push-secret" }, events_requested: [PURGED] };
  const stream = await expect(201, "POST", meta.configuration_endpoint, { token: alice.token, body: config });
  check(typeof stream.stream_id === "string" && stream.iss === ISSUER && stream.aud === alice.audience, "create: stream_id, iss and aud");
  check(stream.events_delivered.includes(PURGED) && stream.events_supported.includes(PURGED), "create: account-purged supported and delivered");
  check(!("authorization_header" in stream.delivery), "create: the push authorization is not shown back");
  const one = `${meta.configuration_endpoint}?stream_id=${stream.stream_id}`;
  check((await expect(200, "GET", one, { token: alice.token })).stream_id === stream.stream_id, "read: the stream");
  check((await call("GET", one)).status === 401, "read without a token: 401");
  check((await call("GET", one, { token: "not-a-receiver-token" })).status === 401, "read with a bad token: 401");
  check((await call("GET", one, { token: bob.token })).status === 404, "another receiver's stream: 404, never 403");
  check((await call("DELETE", one, { token: bob.token })).status === 404, "deleting another receiver's stream: 404");
  check((await call("POST", meta.configuration_endpoint, { token: alice.token, body: config })).status === 409, "a duplicate push stream: 409");
  for (const [what, body] of [
    ["no delivery", { events_requested: [PURGED] }],
    ["an unknown delivery method", { delivery: { method: "urn:example:pigeon" } }],
    ["push without endpoint_url", { delivery: { method: PUSH } }],
    ["events_requested not an array", { delivery: { method: POLL }, events_requested: PURGED }],
    ["a stream_id on create", { stream_id: stream.stream_id, delivery: { method: POLL } }],
  ]) {
    check((await call("POST", meta.configuration_endpoint, { token: alice.token, body })).status === 400, `malformed configuration (${what}): 400`);
  }
  const unknown = `${meta.configuration_endpoint}?stream_id=00000000-0000-4000-8000-000000000000`;
  check((await call("GET", unknown, { token: alice.token })).status === 404, "an unknown stream: 404");
  const updated = await expect(200, "PATCH", meta.configuration_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, description: "risk signals" } });
  check(updated.description === "risk signals" && updated.delivery.endpoint_url === alicePush.url, "update: description changed, delivery kept");
  const replaced = await expect(200, "PUT", meta.configuration_endpoint, { token: alice.token, body: { ...updated, delivery: config.delivery, description: undefined } });
  check(replaced.description === undefined && replaced.stream_id === stream.stream_id, "replace: the whole configuration");
  check((await call("PATCH", meta.configuration_endpoint, { token: alice.token, body: { stream_id: "00000000-0000-4000-8000-000000000000" } })).status === 404, "updating an unknown stream: 404");
  const listed = await expect(200, "GET", meta.configuration_endpoint, { token: alice.token });
  check(Array.isArray(listed) && listed.length === 1, "read all: the receiver's one stream");

  // ---- Verification: the state comes back in a verification SET through the stream.
  await expect(204, "POST", meta.verification_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, state: "ZXhhbXBsZS1zdGF0ZQ" } });
  await waitFor("the verification SET", () => alicePush.received.length >= 1);
  const verification = await validateSet(jwks, alicePush.received[0], alice.audience);
  check(verification.events[VERIFICATION]?.state === "ZXhhbXBsZS1zdGF0ZQ", "verification: the state is echoed");
  check(alicePush.wrongAuth === 0, "push: the stream's authorization_header on every request");

  // ---- Push delivery, and status: paused keeps, disabled drops.
  const first = await deleteAUser(main, "ssf-e2e-1@example.com");
  await waitFor("a pushed account-purged SET", () => alicePush.received.length >= 2);
  const purged = await validateSet(jwks, alicePush.received[1], alice.audience);
  check(PURGED in purged.events && purged.sub_id?.id === first, "push: account-purged for the deleted user");
  let status = await expect(200, "POST", meta.status_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, status: "paused" } });
  check(status.status === "paused", "status: paused");
  const whilePaused = await deleteAUser(main, "ssf-e2e-2@example.com");
  await sleep(1500);
  check(alicePush.received.length === 2, "paused: nothing pushed");
  await expect(200, "POST", meta.status_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, status: "enabled" } });
  await waitFor("the kept SET", () => alicePush.received.length >= 3);
  check((await validateSet(jwks, alicePush.received[2], alice.audience)).sub_id?.id === whilePaused, "resumed: the event kept while paused arrives");
  await expect(200, "POST", meta.status_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, status: "disabled" } });
  status = await expect(200, "GET", `${meta.status_endpoint}?stream_id=${stream.stream_id}`, { token: alice.token });
  check(status.status === "disabled", "status: disabled, as read back");
  await deleteAUser(main, "ssf-e2e-3@example.com");
  await sleep(800);
  await expect(200, "POST", meta.status_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, status: "enabled" } });
  await sleep(1500);
  check(alicePush.received.length === 3, "disabled: the event was dropped, not delivered on enabling");

  // ---- Poll delivery with acknowledgements.
  const pollStream = await expect(201, "POST", meta.configuration_endpoint, { token: bob.token, body: { delivery: { method: POLL }, events_requested: [PURGED] } });
  const pollUrl = pollStream.delivery.endpoint_url;
  check(new URL(pollUrl).origin === main.api, "poll: the transmitter gives the poll URL");
  const polledUsers = [];
  for (let i = 0; i < 3; i++) polledUsers.push(await deleteAUser(main, `ssf-e2e-poll-${i}@example.com`));
  let batch;
  await waitFor("three SETs to poll", async () => {
    batch = await expect(200, "POST", pollUrl, { token: bob.token, body: { maxEvents: 10, returnImmediately: true } });
    return Object.keys(batch.sets).length === 3;
  });
  const unacked = Object.keys(batch.sets).sort();
  for (const set of Object.values(batch.sets)) await validateSet(jwks, set, bob.audience);
  const again = await expect(200, "POST", pollUrl, { token: bob.token, body: { maxEvents: 10, returnImmediately: true } });
  check(JSON.stringify(Object.keys(again.sets).sort()) === JSON.stringify(unacked), "poll: SETs not acknowledged come again");
  const afterAck = await expect(200, "POST", pollUrl, { token: bob.token, body: { ack: unacked, maxEvents: 10, returnImmediately: true } });
  check(Object.keys(afterAck.sets).length === 0 && afterAck.moreAvailable === false, "poll: acknowledged SETs never come again");
  check((await call("POST", pollUrl, { token: alice.token, body: { returnImmediately: true } })).status === 404, "poll: another receiver's stream is 404");

  // ---- Subjects, with default_subjects NONE: only added subjects' events arrive.
  const narrow = await startServer("ssf-none", { databaseUrl: `sqlite://${join(dir, "none.sqlite3")}`, defaultSubjects: "NONE" });
  const narrowMeta = await expect(200, "GET", `${narrow.api}/.well-known/ssf-configuration`);
  check(narrowMeta.default_subjects === "NONE", "metadata: default_subjects NONE");
  const carol = await newReceiver(narrow, "https://carol.example");
  const carolStream = await expect(201, "POST", narrowMeta.configuration_endpoint, { token: carol.token, body: { delivery: { method: POLL } } });
  await expect(200, "POST", narrowMeta.add_subject_endpoint, { token: carol.token, body: { stream_id: carolStream.stream_id, subject: { format: "email", email: "watched@example.com" }, verified: true } });
  check((await call("POST", narrowMeta.add_subject_endpoint, { token: carol.token, body: { stream_id: carolStream.stream_id, subject: { format: "unknown" } } })).status === 400, "subjects: an unsupported format is 400");
  await deleteAUser(narrow, "unwatched@example.com");
  const watched = await deleteAUser(narrow, "watched@example.com");
  const narrowJwks = createRemoteJWKSet(new URL(`${narrow.api}/.well-known/jwks.json`));
  let narrowSets;
  await waitFor("the watched subject's SET", async () => {
    narrowSets = await expect(200, "POST", carolStream.delivery.endpoint_url, { token: carol.token, body: { returnImmediately: true } });
    return Object.keys(narrowSets.sets).length >= 1;
  });
  await sleep(1000);
  narrowSets = await expect(200, "POST", carolStream.delivery.endpoint_url, { token: carol.token, body: { returnImmediately: true } });
  const narrowClaims = await Promise.all(Object.values(narrowSets.sets).map((s) => validateSet(narrowJwks, s, carol.audience)));
  check(narrowClaims.length === 1 && narrowClaims[0].sub_id.id === watched, "subjects NONE: only the added subject's event arrives");
  await expect(204, "POST", narrowMeta.remove_subject_endpoint, { token: carol.token, body: { stream_id: carolStream.stream_id, subject: { format: "email", email: "watched@example.com" } } });
  await expect(200, "POST", carolStream.delivery.endpoint_url, { token: carol.token, body: { ack: Object.keys(narrowSets.sets), maxEvents: 0 } });
  await deleteAUser(narrow, "watched@example.com"); // the address again, on a new user
  await sleep(1000);
  const afterRemoval = await expect(200, "POST", carolStream.delivery.endpoint_url, { token: carol.token, body: { returnImmediately: true } });
  check(Object.keys(afterRemoval.sets).length === 0, "subjects: once removed, the address's events no longer arrive");

  // ---- Two instances, 200 deletions, two push streams and one poll stream.
  const second = await startServer("ssf-2", { databaseUrl: process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "ssf.sqlite3")}` });
  const dave = await newReceiver(main, "https://dave.example");
  const up = await pushEndpoint(null);
  const late = await pushEndpoint(null);
  endpoints.push(up, late);
  late.down = true; // down for the first half
  for (const endpoint of [up, late]) {
    await expect(201, "POST", meta.configuration_endpoint, { token: dave.token, body: { delivery: { method: PUSH, endpoint_url: endpoint.url }, events_requested: [PURGED] } });
  }
  const davePoll = await expect(201, "POST", meta.configuration_endpoint, { token: dave.token, body: { delivery: { method: POLL }, events_requested: [PURGED] } });
  // Disable the earlier streams so only these three count.
  await expect(200, "POST", meta.status_endpoint, { token: alice.token, body: { stream_id: stream.stream_id, status: "disabled" } });
  const N = 200;
  const deleted = new Set();
  const polled = new Map(); // jti → user
  let acknowledgedAgain = 0;
  const acked = new Set();
  async function pollOnce() {
    const res = await expect(200, "POST", davePoll.delivery.endpoint_url, { token: dave.token, body: { maxEvents: 50, returnImmediately: true, ack: [] } });
    const jtis = Object.keys(res.sets);
    for (const jti of jtis) {
      if (acked.has(jti)) acknowledgedAgain++;
      const claims = await validateSet(jwks, res.sets[jti], dave.audience);
      if (PURGED in claims.events) polled.set(jti, claims.sub_id.id);
    }
    if (jtis.length) await expect(200, "POST", davePoll.delivery.endpoint_url, { token: dave.token, body: { ack: jtis, maxEvents: 0, returnImmediately: true } });
    for (const jti of jtis) acked.add(jti);
  }
  for (let i = 0; i < N; i++) {
    const via = i % 2 === 0 ? main : second;
    deleted.add(await deleteAUser(via, `ssf-fleet-${i}@example.com`));
    if (i === N / 2) {
      await pollOnce();
      check(late.refused > 0 && late.received.length === 0, `the second push receiver refused ${late.refused} attempts while down`);
      late.down = false; // back for the second half
    }
  }
  await waitFor("200 SETs on every stream", async () => {
    await pollOnce();
    return up.received.length >= N && late.received.length >= N && polled.size >= N;
  }, 120);
  await sleep(1500);
  await pollOnce();
  for (const [name, endpoint] of [["the push stream", up], ["the push stream whose receiver was down", late]]) {
    const claims = await Promise.all(endpoint.received.map((s) => validateSet(jwks, s, dave.audience)));
    const jtis = new Set(claims.map((c) => c.jti));
    const users = new Set(claims.map((c) => c.sub_id.id));
    check(claims.length === N && jtis.size === N && [...users].every((u) => deleted.has(u)) && users.size === N,
      `${name}: ${claims.length} SETs, ${jtis.size} distinct, one per deleted user`);
  }
  const pollUsers = new Set(polled.values());
  check(polled.size === N && pollUsers.size === N && [...pollUsers].every((u) => deleted.has(u)), `the poll stream: ${polled.size} distinct SETs, one per deleted user`);
  check(acknowledgedAgain === 0, "the poll stream: no SET came back after its acknowledgement");
  console.log("ssf test passed");
} finally {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill("SIGTERM");
  for (const e of endpoints) e.server.close();
}
