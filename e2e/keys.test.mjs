// Keys, algorithms and rotation, checked by real clients against the real binary:
//
// 1. For RS256, ES256 and EdDSA: `jose` and PyJWT verify session tokens from the live JWKS, and
//    so do docs/keys.md's Node and Python examples, run exactly as printed; a token whose header
//    names another algorithm than its key's is refused (401); after a rotation every kid is the
//    RFC 7638 thumbprint `jose`'s calculateJwkThumbprint computes.
// 2. A rotation soak, time compressed (interval 15s, JWKS max-age 3s, publish_ahead 6s), on two
//    instances sharing one database, over at least 5 rotations: a client that caches the JWKS
//    for exactly its max-age and never refetches early verifies every token either instance
//    issues (zero failures); both sign with the key the stored schedule names; no token is
//    signed by a key that was in the JWKS for less than publish_ahead.
// 3. One instance is killed (SIGKILL) as it starts creating the next key: the other creates
//    exactly one, and the soak's guarantees hold on.
//
// Usage: node keys.test.mjs   (API_BIN=path/to/api, E2E_DATABASE_URL=postgres://… for the soak;
// SQLite files otherwise)
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  jwtVerify,
} from "jose";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, freePort } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const apiBin = process.env.API_BIN ?? join(here, "..", "target", "debug", "api");
const dir = mkdtempSync(join(tmpdir(), "hanko-keys-"));
const ISSUER = "https://auth.example.test";
const AUDIENCE = "example.test";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// A server process: its URLs, its log lines, and a way to stop (or kill) it.
async function startServer(name, { databaseUrl, secrets, session = {}, log = "warn" }) {
  const [apiPort, adminPort] = [await freePort(), await freePort()];
  const configPath = join(dir, `${name}.yaml`);
  const config = {
    server: { public: { address: `127.0.0.1:${apiPort}` }, admin: { address: `127.0.0.1:${adminPort}` } },
    database: { url: databaseUrl },
    secrets: { keys: ["keys-e2e-secret-0123456789abcdef"], ...secrets },
    session: { issuer: ISSUER, audience: [AUDIENCE], ...session },
    log: { level: log },
  };
  writeFileSync(configPath, JSON.stringify(config)); // JSON is YAML
  const proc = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "ignore", "pipe"] });
  const lines = [];
  const waiters = [];
  createInterface({ input: proc.stderr }).on("line", (line) => {
    lines.push(line);
    for (const w of waiters) w(line);
  });
  const server = {
    name,
    proc,
    lines,
    onLine: (f) => waiters.push(f),
    api: `http://127.0.0.1:${apiPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    alive: true,
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${server.api}/health/ready`)).status === 200) break;
    } catch {}
    if (i > 300 || proc.exitCode !== null) {
      throw new Error(`${name} did not become ready:\n${lines.join("\n")}`);
    }
    await sleep(100);
  }
  return server;
}

function stop(server) {
  server.alive = false;
  server.proc.kill("SIGTERM");
}

async function request(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

async function expectJson(method, url, status, body) {
  const res = await request(method, url, body);
  if (res.status !== status) throw new Error(`${method} ${url}: ${res.status} (expected ${status}): ${res.text}`);
  return res.json();
}

async function createUser(server, address) {
  const user = await expectJson("POST", `${server.admin}/users`, 201, {
    emails: [{ address, is_primary: true, is_verified: true }],
  });
  return user.id;
}

async function issue(server, userId) {
  const s = await expectJson("POST", `${server.admin}/sessions`, 200, { user_id: userId });
  return s.session_token;
}

/// docs/keys.md's example for `lang`, exactly as printed (the fenced block after its marker).
function docsExample(lang) {
  const readme = readFileSync(join(here, "..", "docs", "keys.md"), "utf8");
  const marker = `<!-- verify-example: ${lang} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`docs/keys.md has no ${marker}`);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  return block[1];
}

/// Runs a client to completion without blocking the event loop: a blocked loop cannot notice
/// that the server closed an idle keep-alive connection, and the next fetch would reuse it.
async function run(cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd: here });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const status = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${status}\n${stdout}\n${stderr}`);
  return stdout.trim();
}

const servers = [];
try {
  // ---- 1. Every algorithm, every client.
  const nodeExample = join(here, `.verify-example-${process.pid}.mjs`); // beside node_modules
  const pythonExample = join(dir, "verify.py");
  writeFileSync(nodeExample, docsExample("node"));
  writeFileSync(pythonExample, docsExample("python"));
  try {
    for (const alg of ["RS256", "ES256", "EdDSA"]) {
      const server = await startServer(alg, {
        databaseUrl: `sqlite://${join(dir, `${alg}.sqlite3`)}`,
        secrets: { algorithm: alg },
      });
      servers.push(server);
      const userId = await createUser(server, `${alg.toLowerCase()}@example.test`);
      const token = await issue(server, userId);
      const jwksUrl = `${server.api}/.well-known/jwks.json`;
      const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: [alg],
      });
      check(payload.sub === userId && protectedHeader.alg === alg, `${alg}: jose verifies a session token from the JWKS`);
      check(
        (await run("python3", ["pyjwt_check.py", jwksUrl, token, userId, alg, AUDIENCE, ISSUER])) === `pyjwt ok (${alg})`,
        `${alg}: PyJWT verifies it`,
      );
      const env = { HANKO_URL: server.api, HANKO_ISSUER: ISSUER, HANKO_AUDIENCE: AUDIENCE };
      check((await run("node", [nodeExample, token], env)) === userId, `${alg}: docs/keys.md's Node example verifies it`);
      check((await run("python3", [pythonExample, token], env)) === userId, `${alg}: docs/keys.md's Python example verifies it`);

      // The same signature under a header that names another algorithm: refused.
      const [, body, signature] = token.split(".");
      for (const other of ["RS256", "ES256", "EdDSA"].filter((a) => a !== alg)) {
        const header = Buffer.from(JSON.stringify({ ...protectedHeader, alg: other })).toString("base64url");
        const confused = await fetch(`${server.api}/me`, { headers: { authorization: `Bearer ${header}.${body}.${signature}` } });
        check(confused.status === 401, `${alg}: the same token with a header naming ${other} is refused (401)`);
      }
      const genuine = await fetch(`${server.api}/me`, { headers: { authorization: `Bearer ${token}` } });
      check(genuine.status === 200, `${alg}: the genuine token is accepted by the service`);
      if (alg === "ES256") {
        // Signed low-s (the high-s twin is refused): standard clients verify every one.
        const many = [];
        for (let i = 0; i < 1000; i++) many.push(await issue(server, userId));
        const set = createLocalJWKSet(await expectJson("GET", jwksUrl, 200));
        let verified = 0;
        for (const t of many) {
          const { payload: claims } = await jwtVerify(t, set, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] });
          if (claims.sub === userId) verified++;
        }
        check(verified === 1000, `ES256: jose verifies 1000 low-s tokens (${verified})`);
        const file = join(dir, "es256-tokens.txt");
        writeFileSync(file, many.join("\n"));
        check(
          (await run("python3", ["pyjwt_check.py", jwksUrl, `@${file}`, userId, alg, AUDIENCE, ISSUER])) === "pyjwt ok (ES256, 1000 tokens)",
          "ES256: PyJWT verifies the same 1000 tokens",
        );
      }

      // After a rotation every kid is the RFC 7638 thumbprint jose computes.
      await expectJson("POST", `${server.admin}/jwks/rotate`, 201);
      const { keys } = await expectJson("GET", jwksUrl, 200);
      check(keys.length === 2, `${alg}: the rotated set publishes both keys`);
      for (const jwk of keys) {
        check(jwk.kid === (await calculateJwkThumbprint(jwk, "sha256")), `${alg}: kid ${jwk.kid} is its RFC 7638 thumbprint`);
        check(jwk.use === "sig" && jwk.alg === alg, `${alg}: ${jwk.kid} carries use "sig" and alg ${alg}`);
      }
      const { payload: again } = await jwtVerify(token, createLocalJWKSet({ keys }), { issuer: ISSUER, audience: AUDIENCE });
      check(again.sub === userId, `${alg}: a token of the retired key still verifies after the rotation`);
      stop(server);
    }
  } finally {
    rmSync(nodeExample, { force: true });
  }

  // ---- 2. The soak: two instances, scheduled rotation, a strictly caching client.
  const INTERVAL_S = 15;
  const MAX_AGE_S = 3;
  const PUBLISH_AHEAD_S = 6;
  const soakDb = process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "soak.sqlite3")}`;
  const soakConfig = {
    databaseUrl: soakDb,
    secrets: {
      algorithm: "RS256",
      rsa_bits: 4096, // a slow key generation: the window phase 3 kills an instance in
      jwks_max_age: `${MAX_AGE_S}s`,
      refresh_interval: "1s",
      rotation: { interval: `${INTERVAL_S}s`, publish_ahead: `${PUBLISH_AHEAD_S}s` },
    },
    session: { lifespan: "10s" },
    log: "info",
  };
  const a = await startServer("soak-a", soakConfig);
  servers.push(a);
  const b = await startServer("soak-b", soakConfig);
  servers.push(b);
  const userId = await createUser(a, "soak@example.test");

  // The client under test: fetches the JWKS (from either instance in turn), keeps it for
  // exactly its max-age from when the answer arrived, never refetches early, not even on an
  // unknown kid.
  const client = {
    turn: 0,
    jwks: null,
    until: 0,
    fetches: 0,
    async keys(instances) {
      if (!this.jwks || Date.now() >= this.until) {
        const from = instances[this.turn++ % instances.length];
        const res = await fetch(`${from.api}/.well-known/jwks.json`);
        const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control"))?.[1]);
        if (maxAge !== MAX_AGE_S) throw new Error(`max-age ${maxAge}, configured ${MAX_AGE_S}`);
        this.jwks = createLocalJWKSet(await res.json());
        this.until = Date.now() + maxAge * 1000;
        this.fetches++;
      }
      return this.jwks;
    },
  };
  const firstSeen = new Map(); // kid → when an observer first saw it in a JWKS (ms)
  const OBSERVER_GRANULARITY_MS = 300;
  let tokens = 0;
  let failures = [];
  let scheduleMismatches = [];
  let earlySigners = [];
  const signers = new Set();

  async function observe(instances) {
    for (const s of instances) {
      const { keys } = await expectJson("GET", `${s.api}/.well-known/jwks.json`, 200);
      for (const k of keys) if (!firstSeen.has(k.kid)) firstSeen.set(k.kid, Date.now());
    }
  }

  /// The key the stored schedule names at `t` (ms).
  function scheduled(schedule, t) {
    let best = null;
    for (const k of schedule) {
      const nb = Date.parse(k.not_before);
      if (nb <= t && (!best || nb > Date.parse(best.not_before))) best = k;
    }
    return best?.kid;
  }

  async function round(instances) {
    await observe(instances);
    const before = Date.now();
    const issued = [];
    for (const s of instances) issued.push({ from: s.name, token: await issue(s, userId), at: Date.now() });
    const after = Date.now();
    const schedule = await expectJson("GET", `${instances[0].admin}/jwks`, 200);
    const expected = scheduled(schedule, before);
    for (const { from, token, at } of issued) {
      tokens++;
      const { kid } = decodeProtectedHeader(token);
      signers.add(kid);
      if (expected === scheduled(schedule, after) && kid !== expected) {
        scheduleMismatches.push(`${from} signed with ${kid}, the schedule names ${expected}`);
      }
      const seen = firstSeen.get(kid);
      if (seen === undefined || at - seen < PUBLISH_AHEAD_S * 1000 - OBSERVER_GRANULARITY_MS) {
        // The very first key signs from the start: nobody can have cached a set without it.
        if (signers.size > 1) earlySigners.push(`${from}: ${kid} signed ${seen === undefined ? "unpublished" : `${at - seen} ms after it was first seen`}`);
      }
      try {
        await jwtVerify(token, await client.keys(instances), { issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"] });
      } catch (e) {
        failures.push(`${from} ${kid}: ${e.code ?? e.message}`);
      }
    }
  }

  const soakStart = Date.now();
  while (signers.size < 6) {
    if (Date.now() - soakStart > (INTERVAL_S * 8 + 30) * 1000) throw new Error(`only ${signers.size} signing keys seen`);
    await round([a, b]);
    await sleep(100);
  }
  const rotations = signers.size - 1;
  check(rotations >= 5, `the soak ran ${rotations} rotations in ${Math.round((Date.now() - soakStart) / 1000)} s`);
  check(failures.length === 0, `the max-age-caching client verified all ${tokens} tokens from both instances (${client.fetches} JWKS fetches): ${failures.slice(0, 5).join("; ")}`);
  check(scheduleMismatches.length === 0, `both instances signed with the key the stored schedule names at every moment: ${scheduleMismatches.slice(0, 5).join("; ")}`);
  check(earlySigners.length === 0, `no token was signed by a key published for less than ${PUBLISH_AHEAD_S} s: ${earlySigners.slice(0, 5).join("; ")}`);
  const stored = await expectJson("GET", `${a.admin}/jwks`, 200);
  check(stored.length <= 3, `at most 3 keys stored in steady state (${stored.length})`);

  // ---- 3. Kill the instance that starts creating the next key. A rotation is due every
  // INTERVAL_S: if no instance says it is creating one within three intervals (the message
  // changed, or rotation stopped), fail instead of waiting for ever.
  const KILL_WAIT_S = INTERVAL_S * 3 + 10;
  let killTimer;
  const killed = await new Promise((resolve, reject) => {
    killTimer = setTimeout(
      () => reject(new Error(`FAILED: no instance logged "rotation: creating the key that follows" within ${KILL_WAIT_S} s`)),
      KILL_WAIT_S * 1000,
    );
    for (const s of [a, b]) {
      s.onLine((line) => {
        const m = /rotation: creating the key that follows (\S+)/.exec(line);
        if (m && s.alive && a.alive && b.alive) {
          s.proc.kill("SIGKILL");
          s.alive = false;
          clearTimeout(killTimer);
          resolve({ server: s, predecessor: m[1], at: Date.now() });
        }
      });
    }
    // Keep the rounds going meanwhile.
    (async () => {
      while (a.alive && b.alive) {
        try {
          await round([a, b]);
        } catch (e) {
          if (a.alive && b.alive) throw e; // a request to the instance just killed may fail
        }
        await sleep(100);
      }
    })().catch(reject);
  });
  const survivor = killed.server === a ? b : a;
  const beforeKill = signers.size;
  failures = [];
  scheduleMismatches = [];
  earlySigners = [];
  // Until the survivor signs with the predecessor's follower, and one round more.
  const predecessorSchedule = await expectJson("GET", `${survivor.admin}/jwks`, 200);
  const predecessor = predecessorSchedule.find((k) => k.kid === killed.predecessor);
  check(predecessor !== undefined, `${killed.server.name} was killed while creating the key that follows ${killed.predecessor}`);
  let followers = [];
  const killStart = Date.now();
  for (;;) {
    if (Date.now() - killStart > (INTERVAL_S * 2 + 10) * 1000) throw new Error("the survivor never switched to a new key");
    await round([survivor]);
    const schedule = await expectJson("GET", `${survivor.admin}/jwks`, 200);
    followers = schedule.filter((k) => Date.parse(k.not_before) > Date.parse(predecessor.not_before));
    if (followers.some((k) => k.signing)) break;
    await sleep(100);
  }
  await round([survivor]);
  check(followers.length === 1, `the survivor created exactly one key to follow ${killed.predecessor}: ${followers.map((k) => k.kid).join(", ")}`);
  check(signers.size > beforeKill, "and signs with it after its not_before");
  check(failures.length === 0, `the caching client verified every token after the kill: ${failures.slice(0, 5).join("; ")}`);
  check(scheduleMismatches.length === 0, `the survivor signed by the schedule: ${scheduleMismatches.slice(0, 5).join("; ")}`);
  check(earlySigners.length === 0, `no key signed before it was published for ${PUBLISH_AHEAD_S} s: ${earlySigners.slice(0, 5).join("; ")}`);
  console.log("keys e2e: all checks passed");
} finally {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
