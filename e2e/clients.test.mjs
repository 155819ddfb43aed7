// Real clients against the real server: `jose` and PyJWT verify a session token
// from the published JWKS; then the browser case: the Hanko frontend SDK (v1) on another origin, in headless
// Chromium, calls GET /me, GET /users/{id} and DELETE /user on the real server with
// `Authorization: Bearer …` and `withCredentials`. A page on an origin that is not allowed
// must not be able to delete anyone.
//
// Usage: node clients.test.mjs   (API_BIN=path/to/api, default ../target/debug/api)
import { spawn, spawnSync } from "node:child_process";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { check, freePort, untilReady } from "./lib.mjs";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
// With E2E_GRACE_PERIOD (e.g. 1h) the server schedules deletions instead: the SDK must not
// notice (204, cookie cleared, token dead); the account is kept, scheduled, until the purge.
const gracePeriod = process.env.E2E_GRACE_PERIOD;
const apiBin = process.env.API_BIN ?? join(here, "..", "target", "debug", "api");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";


const [apiPort, adminPort, pagePort] = [await freePort(), await freePort(), await freePort()];
const allowedOrigin = `http://127.0.0.1:${pagePort}`;
const api = `http://127.0.0.1:${apiPort}`;
const admin = `http://127.0.0.1:${adminPort}`;
const dir = mkdtempSync(join(tmpdir(), "hanko-e2e-"));
const configPath = join(dir, "config.yaml");
writeFileSync(
  configPath,
  `server:
  public:
    address: 127.0.0.1:${apiPort}
    cors:
      allow_origins: ["${allowedOrigin}"]
  admin:
    address: 127.0.0.1:${adminPort}
database:
  url: ${process.env.E2E_DATABASE_URL ?? `sqlite://${join(dir, "e2e.sqlite3")}`}
secrets:
  keys: ["browser-test-secret-0123456789"]
session:
  cookie:
    secure: false
    same_site: lax
account:
  allow_deletion: true
${gracePeriod ? `  deletion:\n    grace_period: ${gracePeriod}\n` : ""}log:
  level: warn
`,
);

const server = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
let browser;
let pageServer;
try {
  await untilReady(api, server);

  async function userWithSession(address) {
    const user = await (await fetch(`${admin}/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ emails: [{ address, is_primary: true, is_verified: true }] }),
    })).json();
    const session = await (await fetch(`${admin}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: user.id }),
    })).json();
    return { id: user.id, token: session.session_token };
  }

  // The page: the SDK's ES module, served from its own origin.
  const sdk = readFileSync(join(here, "node_modules/@teamhanko/hanko-frontend-sdk/dist/sdk.modern.js"));
  const html = `<!doctype html><meta charset="utf-8"><title>e2e</title>
<script type="module">
  import { Hanko } from "/sdk.modern.js";
  window.hanko = new Hanko(${JSON.stringify(api)});
  window.sdkReady = true;
</script>`;
  pageServer = createServer((req, res) => {
    if (req.url === "/sdk.modern.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(sdk);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end(html);
    }
  });
  await new Promise((r) => pageServer.listen(pagePort, "127.0.0.1", r));

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

  async function openPage(origin, token) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.sdkReady === true);
    // The SDK keeps the session token in the `hanko` cookie of the page's own origin.
    await page.evaluate((t) => { document.cookie = `hanko=${t}; path=/`; }, token);
    return page;
  }

  const jane = await userWithSession("jane.browser@example.com");

  // 0. Standard JOSE libraries verify our tokens from the JWKS alone.
  const jwks = createRemoteJWKSet(new URL(`${api}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(jane.token, jwks, {
    audience: "localhost",
    algorithms: ["RS256"],
  });
  check(payload.sub === jane.id && protectedHeader.alg === "RS256", "jose verifies the token from the JWKS");
  const py = spawnSync("python3", [join(here, "pyjwt_check.py"), `${api}/.well-known/jwks.json`, jane.token, jane.id],
    { encoding: "utf8" });
  check(py.status === 0, `PyJWT verifies the token from the JWKS ${py.stdout.trim()} ${py.stderr.trim()}`);

  // 1. Allowed origin: getCurrent() then delete().
  const page = await openPage(allowedOrigin, jane.token);
  const current = await page.evaluate(async () => await window.hanko.user.getCurrent());
  check(current.id === jane.id, "getCurrent() returns the signed-in user (GET /me, GET /users/{id})");
  check(current.email === "jane.browser@example.com", "getCurrent() carries the primary e-mail");
  const deleted = await page.evaluate(async () => {
    let event = false;
    document.addEventListener("hanko-user-deleted", () => { event = true; });
    await window.hanko.user.delete();
    return { event, cookie: document.cookie };
  });
  check(deleted.event, "user.delete() resolves and dispatches hanko-user-deleted");
  check(!deleted.cookie.includes("hanko="), "the SDK removed its session cookie");
  const after = await page.evaluate(async () => {
    try { await window.hanko.user.getCurrent(); return "resolved"; } catch (e) { return e.constructor.name + ":" + e.code; }
  });
  check(after.includes("unauthorized"), `getCurrent() after deletion is refused (${after})`);
  check((await fetch(`${api}/me`, { headers: { authorization: `Bearer ${jane.token}` } })).status === 401,
    "the deleted user's token is refused by the server");
  if (gracePeriod) {
    const kept = await (await fetch(`${admin}/users/${jane.id}`)).json();
    check(typeof kept.deletion?.purge_after === "string", `the account is scheduled for deletion (grace period ${gracePeriod})`);
  } else {
    check((await fetch(`${admin}/users/${jane.id}`)).status === 404, "the user is gone");
  }

  // 2. Another origin (localhost is not 127.0.0.1): the preflight fails, nothing is deleted.
  const bob = await userWithSession("bob.browser@example.com");
  const evil = await openPage(`http://localhost:${pagePort}`, bob.token);
  const refused = await evil.evaluate(async () => {
    try { await window.hanko.user.delete(); return "resolved"; } catch (e) { return e.constructor.name; }
  });
  check(refused !== "resolved", `delete() from a disallowed origin fails in the browser (${refused})`);
  check((await fetch(`${admin}/users/${bob.id}`)).status === 200, "the user on the disallowed origin survives");
  check((await fetch(`${api}/me`, { headers: { authorization: `Bearer ${bob.token}` } })).status === 200,
    "and their token still works");
  console.log("browser test passed");
} finally {
  await browser?.close();
  pageServer?.close();
  server.kill("SIGTERM");
}
