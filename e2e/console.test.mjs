// The operator console in a real browser (headless Chromium, playwright-core) against the real
// binary: every control is found by its role and accessible name, as an operator's screen
// reader would. The whole walk runs twice, at 1280 px and at 375 px wide, with axe-core on
// every view; then a page of another origin tries to make the browser act on the admin API;
// and a user whose e-mail is markup is shown as text everywhere.
//
// Usage: node console.test.mjs   (API_BIN, E2E_DATABASE_URL = a Postgres database; SCREENSHOT=path)
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { check, freePort, untilReady } from "./lib.mjs";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const apiBin = process.env.API_BIN ?? join(here, "..", "target", "debug", "api");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const databaseUrl = process.env.E2E_DATABASE_URL;
if (!databaseUrl?.startsWith("postgres")) throw new Error("E2E_DATABASE_URL must name a Postgres database");
const axeSource = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");

const [apiPort, adminPort, hookPort, otherPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
const api = `http://127.0.0.1:${apiPort}`;
const admin = `http://127.0.0.1:${adminPort}`;
const apiKey = "console-e2e-api-key-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "hanko-console-"));
const configPath = join(dir, "config.yaml");
writeFileSync(
  configPath,
  `server:
  public:
    address: 127.0.0.1:${apiPort}
  admin:
    address: 127.0.0.1:${adminPort}
    api_key: ${apiKey}
database:
  url: ${databaseUrl}
secrets:
  keys: ["console-e2e-secret-0123456789"]
account:
  allow_deletion: true
  deletion:
    grace_period: 1h
  retention:
    inactive_after: 730d
scim:
  enabled: true
webhooks:
  hooks:
    - name: crm
      url: http://127.0.0.1:${hookPort}/hook
      events: [user.delete]
  max_attempts: 2
  initial_backoff: 100ms
log:
  level: warn
`,
);

// The hook's receiver: fails (503) until told otherwise; remembers what it accepted.
const hook = { failing: true, accepted: [] };
const hookServer = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    if (hook.failing) return res.writeHead(503).end("down for maintenance");
    hook.accepted.push(JSON.parse(body));
    res.writeHead(200).end();
  });
});
// Another origin: a page that tries to make the operator's browser act on the admin API.
const otherServer = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>elsewhere</title>
<form id="rotate" method="post" action="${admin}/jwks/rotate"></form>`);
});
await new Promise((r) => hookServer.listen(hookPort, "127.0.0.1", r));
await new Promise((r) => otherServer.listen(otherPort, "127.0.0.1", r));

const server = spawn(apiBin, ["--config", configPath, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
let browser;
let proxy;
let devServer;

/** One call to the admin or public API; panics with the method, URL, status and body unless `expect` matches. */
async function call(method, url, { body, token = apiKey, expect = [200, 201, 204] } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function newUser(address, sessions = 1) {
  const user = (await call("POST", `${admin}/users`, {
    body: { emails: [{ address, is_primary: true, is_verified: true }] },
  })).json;
  const tokens = [];
  for (let i = 0; i < sessions; i++) {
    tokens.push((await call("POST", `${admin}/sessions`, { body: { user_id: user.id, user_agent: `e2e ${i}` } })).json.session_token);
  }
  return { ...user, tokens };
}

async function until(what, predicate, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the users list to hold one link, named `address` (a search's answer, not the
 * list it replaces), and returns it. */
async function listedAlone(page, address) {
  const links = page.getByRole("region", { name: "Users" }).getByRole("link");
  await until(`the users list searched for ${address}`, async () =>
    await links.count() === 1 && await links.first().innerText() === address);
  return links.first();
}

/** Searches the users by e-mail as an operator does. */
async function findUser(page, address) {
  await page.getByLabel("Search by e-mail").fill(address);
  await page.getByRole("button", { name: "Search" }).click();
  return listedAlone(page, address);
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page, view) {
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) stays in force.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `${view}: axe-core finds no serious or critical violation ${JSON.stringify(bad.length ? bad : violations.map((v) => `${v.impact}: ${v.id}`))}`);
}

try {
  await untilReady(api, server);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

  // The page itself: embedded, with its policy.
  const served = await fetch(`${admin}/console/`);
  check(served.status === 200 && served.headers.get("content-security-policy")
    === "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "GET /console/ needs no key and carries the CSP");

  for (const [width, height] of [[1280, 900], [375, 800]]) {
    const w = `${width}px`;
    const tag = `w${width}`;
    const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
    const page = await context.newPage();
    const dialogs = [];
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    const status = page.getByRole("status");
    const alert = page.getByRole("alert");

    // Sign in: a wrong key is refused with a message, the right one opens the users.
    await page.goto(`${admin}/console/`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await accessible(page, `${w} sign-in`);
    await page.getByLabel("API key").fill("not-the-key-not-the-key-not-the-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await alert.filter({ hasText: "The API key was refused." }).waitFor();
    check(await page.getByRole("heading", { name: "Sign in" }).isVisible(), `${w}: a wrong key is refused with a message`);
    await page.getByLabel("API key").fill(apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Users" }).waitFor();
    check(await page.evaluate(() => Object.values(sessionStorage).length === 1), `${w}: signed in, the key kept in sessionStorage`);
    await accessible(page, `${w} users`);

    // Find a user by e-mail; a legal hold with a reason, seen, then released.
    const alice = await newUser(`alice.${tag}@example.com`);
    await (await findUser(page, alice.email)).click();
    await page.getByRole("heading", { name: alice.email }).waitFor();
    check(await page.getByRole("heading", { name: alice.email }).isVisible() && page.url().endsWith(`#/users/${alice.id}`),
      `${w}: found ${alice.email} by e-mail and opened their page`);
    await accessible(page, `${w} user`);
    await page.getByRole("button", { name: "Place legal hold" }).click();
    await page.getByLabel("Reason").fill("Case 42 <b>litigation</b>");
    await page.getByRole("button", { name: "Confirm legal hold" }).click();
    await status.filter({ hasText: "Legal hold placed" }).waitFor();
    await page.getByText("Held: Case 42 <b>litigation</b>").waitFor();
    const held = (await call("GET", `${admin}/users/${alice.id}`)).json.deletion;
    check(held?.hold === true && held.hold_reason === "Case 42 <b>litigation</b>", `${w}: the hold and its reason are stored and shown (as text)`);
    await page.getByRole("button", { name: "Release hold" }).click();
    await status.filter({ hasText: "released" }).waitFor();
    check((await call("GET", `${admin}/users/${alice.id}`)).json.deletion === null && await page.getByRole("button", { name: "Place legal hold" }).isVisible(),
      `${w}: "Release hold" releases it`);

    // A grace-period deletion is in the queue with its purge time; "Restore" brings the user back.
    const bob = await newUser(`bob.${tag}@example.com`);
    await call("DELETE", `${api}/user`, { token: bob.tokens[0] });
    const purgeAfter = (await call("GET", `${admin}/users/${bob.id}`)).json.deletion.purge_after;
    await call("POST", `${admin}/sessions`, { body: { user_id: bob.id }, expect: [409] });
    await page.getByRole("link", { name: "Deletion queue", exact: true }).click();
    await page.getByRole("heading", { name: "Deletion queue" }).waitFor();
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: bob.email }) });
    const shownPurge = `${new Date(purgeAfter).toISOString().slice(0, 16).replace("T", " ")} UTC`;
    check((await row.innerText()).includes(shownPurge), `${w}: the queue lists ${bob.email} with the purge time ${shownPurge}`);
    await page.getByRole("heading", { name: "Inactive accounts" }).waitFor();
    const preview = (await call("GET", `${admin}/retention/preview`)).json;
    check(await page.getByText(`A pass now would warn ${preview.warn} and delete ${preview.delete} users`).isVisible(),
      `${w}: the deletion queue shows the inactivity policy's preview (${preview.warn} to warn, ${preview.delete} to delete)`);
    await accessible(page, `${w} deletion queue`);
    await row.getByRole("link", { name: bob.email }).click();
    await page.getByText(/left\)$/).first().waitFor();
    if (width === 1280 && process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    await page.getByRole("button", { name: "Restore" }).click();
    await status.filter({ hasText: "cancelled" }).waitFor();
    const restored = await call("POST", `${admin}/sessions`, { body: { user_id: bob.id } });
    check(restored.status === 200 && (await call("GET", `${admin}/users/${bob.id}`)).json.deletion === null,
      `${w}: "Restore" brought ${bob.email} back: POST /sessions was 409, now ${restored.status}, no deletion scheduled`);

    // "Revoke all sessions" ends every session; their tokens answer 401.
    const carol = await newUser(`carol.${tag}@example.com`, 3);
    await page.goto(`${admin}/console/#/users/${carol.id}`);
    await page.getByRole("heading", { name: carol.email }).waitFor();
    await page.getByRole("button", { name: "Revoke", exact: true }).first().waitFor();
    check(await page.getByRole("button", { name: "Revoke", exact: true }).count() === 3, `${w}: carol's 3 sessions are listed, a "Revoke" each`);
    await page.getByRole("button", { name: "Revoke", exact: true }).first().click();
    await status.filter({ hasText: "The session was revoked." }).waitFor();
    await page.getByRole("button", { name: "Revoke all sessions" }).click();
    await status.filter({ hasText: "Every session" }).waitFor();
    await page.getByText("No active sessions.").waitFor();
    const answers = [];
    for (const token of carol.tokens) answers.push((await call("GET", `${api}/me`, { token, expect: [200, 401] })).status);
    const left = (await call("GET", `${admin}/users/${carol.id}/sessions`)).json;
    check(answers.length === 3 && answers.every((s) => s === 401) && left.length === 0,
      `${w}: "Revoke" ended one session, "Revoke all sessions" the rest: the 3 tokens answer ${answers.join(", ")}, ${left.length} sessions left`);

    // Deliveries: two events whose hook failed until dead; "Retry" one, "Retry all dead" the other.
    hook.failing = true;
    const doomed = [await newUser(`dave.${tag}@example.com`, 0), await newUser(`dora.${tag}@example.com`, 0)];
    for (const u of doomed) await call("DELETE", `${admin}/users/${u.id}`);
    await until("two dead deliveries", async () => {
      const dead = (await call("GET", `${admin}/webhooks/deliveries?status=dead&per_page=1000`)).json;
      return doomed.every((u) => dead.some((d) => d.payload.id === u.id));
    });
    hook.failing = false;
    await page.getByRole("link", { name: "Deliveries", exact: true }).click();
    await page.getByRole("heading", { name: "Deliveries" }).waitFor();
    await page.getByRole("button", { name: "Retry", exact: true }).first().waitFor();
    check((await page.getByRole("region", { name: "Dead deliveries" }).innerText()).includes("503"), `${w}: dead deliveries show hook, attempts and the last error`);
    await accessible(page, `${w} deliveries`);
    const deadOf = async (u) => (await call("GET", `${admin}/webhooks/deliveries?status=dead&per_page=1000`)).json
      .find((d) => d.payload.id === u.id);
    const first = await deadOf(doomed[0]);
    await page.getByRole("region", { name: "Dead deliveries" }).getByRole("row").filter({ hasText: first.event_id })
      .getByRole("button", { name: "Retry", exact: true }).click();
    await status.filter({ hasText: "is pending again" }).waitFor();
    const delivered = async () => (await call("GET", `${admin}/webhooks/deliveries?status=delivered&per_page=1000`)).json
      .filter((d) => doomed.some((u) => u.id === d.payload.id)).map((d) => d.payload.id);
    await until("the retried delivery delivered", async () => (await delivered()).includes(doomed[0].id));
    check(await deadOf(doomed[1]) !== undefined, `${w}: "Retry" on one row retried that delivery alone`);
    await page.getByRole("button", { name: "Retry all dead" }).click();
    await status.filter({ hasText: /pending again/ }).waitFor();
    await until("both deliveries delivered", async () => (await delivered()).length === 2);
    const both = await delivered();
    check(doomed.every((u) => both.includes(u.id)) && (await deadOf(doomed[0])) === undefined && (await deadOf(doomed[1])) === undefined,
      `${w}: "Retry" and "Retry all dead" made both dead deliveries pending; both delivered, none dead`);

    // Keys: "Rotate key" adds a published key, listed in the public JWKS.
    await page.getByRole("link", { name: "Keys", exact: true }).click();
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    const before = (await call("GET", `${admin}/jwks`)).json.length;
    await accessible(page, `${w} keys`);
    const rotate = async (choice, expected) => {
      await page.getByRole("button", { name: "Rotate key" }).click();
      await page.getByRole("button", { name: choice }).click();
      const said = await status.filter({ hasText: /^Key \S+ (is published|was added)/ }).innerText();
      const kid = said.match(/^Key (\S+) /)[1];
      const keys = (await call("GET", `${admin}/jwks`)).json;
      const jwks = (await call("GET", `${api}/.well-known/jwks.json`, { token: null })).json;
      const key = keys.find((k) => k.kid === kid);
      check(key && key.published === true && key.signing === expected && jwks.keys.some((k) => k.kid === kid)
        && (await page.getByRole("region", { name: "Signing keys" }).innerText()).includes(kid),
      `${w}: "Rotate key", "${choice}" added ${kid}: published (in the JWKS), ${expected ? "signing" : "not signing yet"}, listed`);
      return keys.length;
    };
    const afterStaged = await rotate("Publish now, sign later", false);
    check(afterStaged === before + 1, `${w}: one key more`);
    await rotate("Sign now", true);
    // Audit log: filter by type and user.
    await page.getByRole("link", { name: "Audit log", exact: true }).click();
    await page.getByLabel("Type").fill("user_hold_set");
    await page.getByLabel("User id").fill(alice.id);
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/#\/audit\?type=user_hold_set&user=/);
    const entries = page.getByRole("region", { name: "Audit log entries" }).getByRole("row");
    await until("the filtered audit log", async () => await entries.count() === 2
      && (await entries.nth(1).innerText()).includes("user_hold_set"), 5000);
    check((await entries.nth(1).innerText()).includes(alice.id), `${w}: the audit log filtered by type and user shows alice's one hold`);
    await accessible(page, `${w} audit log`);

    // Export downloads the JSON.
    await page.goto(`${admin}/console/#/users/${alice.id}`);
    await page.getByRole("heading", { name: alice.email }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export" }).click(),
    ]);
    const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
    check(exported.user.id === alice.id && Array.isArray(exported.sessions), `${w}: "Export" downloads the user's JSON (${download.suggestedFilename()})`);

    // SCIM clients: "Create client" shows the token once; it provisions and deactivates a
    // user, whose page then says so; "Revoke" ends the token.
    await page.getByRole("link", { name: "SCIM clients", exact: true }).click();
    await page.getByRole("heading", { name: "SCIM clients" }).waitFor();
    await page.getByLabel("Name").fill(`okta-${tag}`);
    await page.getByRole("button", { name: "Create client" }).click();
    await status.filter({ hasText: `SCIM client okta-${tag} was created.` }).waitFor();
    const scimToken = (await page.locator("#scim-token").innerText()).trim();
    await accessible(page, `${w} SCIM clients`);
    const scimCall = (method, path, body, expect) => call(method, `${api}/scim/v2${path}`, { body, token: scimToken, expect });
    const provisioned = (await scimCall("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `pat.${tag}@example.com`, externalId: `00u-${tag}`,
      emails: [{ value: `pat.${tag}@example.com`, primary: true, type: "work" }],
    }, [201])).json;
    await scimCall("PATCH", `/Users/${provisioned.id}`, { Operations: [{ op: "replace", path: "active", value: false }] }, [200]);
    await page.goto(`${admin}/console/#/users/${provisioned.id}`);
    await page.getByRole("heading", { name: `pat.${tag}@example.com` }).waitFor();
    const details = await page.getByRole("main").innerText();
    check(details.includes("Deactivated by its identity provider") && details.includes(`00u-${tag}`)
      && details.includes(`pat.${tag}@example.com`), `${w}: the user page shows the deactivation, username and external id`);
    await accessible(page, `${w} deactivated user`);
    await page.goto(`${admin}/console/#/scim`);
    await page.getByRole("heading", { name: "SCIM clients" }).waitFor();
    check(!(await page.locator("#scim-token").isVisible()), `${w}: the token is not shown again`);
    await page.getByRole("region", { name: "SCIM clients" }).getByRole("row").filter({ hasText: `okta-${tag}` })
      .getByRole("button", { name: "Revoke" }).click();
    await status.filter({ hasText: `SCIM client okta-${tag} was revoked` }).waitFor();
    const refused = await scimCall("GET", `/Users/${provisioned.id}`, undefined, [401]);
    check(refused.status === 401, `${w}: "Revoke" ends the token (401 at /scim/v2)`);

    // "Delete user" refuses until the primary e-mail is typed.
    const eve = await newUser(`eve.${tag}@example.com`);
    await page.goto(`${admin}/console/#/users/${eve.id}`);
    await page.getByRole("heading", { name: eve.email }).waitFor();
    await page.getByRole("button", { name: "Delete user" }).click();
    const confirm = page.getByRole("button", { name: "Delete permanently" });
    const typed = page.getByLabel("Type the primary e-mail to confirm");
    check(await confirm.isDisabled(), `${w}: "Delete user" asks for the e-mail; nothing typed, the button is disabled`);
    await typed.fill(`eve.${tag}@example.org`);
    check(await confirm.isDisabled(), `${w}: a wrong e-mail leaves it disabled`);
    await call("GET", `${admin}/users/${eve.id}`);
    await typed.fill(eve.email);
    await confirm.click();
    await status.filter({ hasText: "was deleted" }).waitFor();
    const gone = await call("GET", `${admin}/users/${eve.id}`, { expect: [200, 404] });
    check(gone.status === 404, `${w}: typed right, the user is deleted (${gone.status})`);

    check(dialogs.length === 0 && pageErrors.length === 0, `${w}: no dialog, no script error (${pageErrors.join("; ")})`);
    await context.close();
  }

  // Markup in an e-mail is text in every view. The API refuses spaces in an address, so the
  // exact case is written into the database (as an import could); a variant without spaces
  // goes through the API.
  const xss = "<img src=x onerror=alert(1)>@x.y";
  await call("POST", `${admin}/users`, { body: { emails: [{ address: xss, is_primary: true }] }, expect: [400] });
  const mallory = await newUser("mallory-placeholder@x.y");
  const psql = spawnSync("psql", [databaseUrl, "-qc", `UPDATE emails SET address = '${xss}' WHERE user_id = '${mallory.id}'`]);
  if (psql.status !== 0) throw new Error(`psql: ${psql.stderr}`);
  const trudy = await newUser("<img/src/onerror=alert(2)>@x.y");
  for (const u of [mallory, trudy]) await call("DELETE", `${api}/user`, { token: u.tokens[0] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${admin}/console/`);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  // Paging: 25 users a page, in the API's order.
  for (let i = 0; i < 25; i++) await newUser(`filler.${String(i).padStart(2, "0")}@example.com`, 0);
  await page.reload();
  const all = await fetch(`${admin}/users?per_page=1000`, { headers: { authorization: `Bearer ${apiKey}` } });
  const total = Number(all.headers.get("x-total-count"));
  const ordered = await all.json();
  check(total > 25, `${total} users, more than a page`);
  const pages = Math.ceil(total / 25);
  await page.getByText(`Page 1 of ${pages} (${total} in all)`).waitFor();
  await page.getByRole("link", { name: "Next page" }).click();
  await page.getByText(`Page 2 of ${pages} (${total} in all)`).waitFor();
  const firstOnPage2 = page.getByRole("region", { name: "Users" }).getByRole("link").first();
  check(await firstOnPage2.innerText() === (ordered[25].email ?? ordered[25].id),
    `the users list pages: "Next page" shows page 2 of ${pages}, starting with the 26th user`);
  await page.getByRole("link", { name: "Previous page" }).click();
  await page.getByText(`Page 1 of ${pages} (${total} in all)`).waitFor();
  const markupShown = async (where) => {
    const images = await page.locator("img").count();
    check(images === 0, `${where}: no element made of an address (0 img)`);
  };
  for (const [u, address] of [[mallory, xss], [trudy, "<img/src/onerror=alert(2)>@x.y"]]) {
    await page.goto(`${admin}/console/#/users?email=${encodeURIComponent(address)}`);
    await listedAlone(page, address);
    await markupShown(`users list, ${address}`);
    await page.getByRole("link", { name: address }).click();
    await page.getByRole("heading", { name: address }).waitFor();
    await markupShown(`user page, ${address}`);
    await page.getByRole("link", { name: "Deletion queue", exact: true }).click();
    await page.getByRole("link", { name: address }).waitFor();
    await markupShown(`deletion queue, ${address}`);
    await page.goto(`${admin}/console/#/audit?user=${u.id}`);
    await page.getByRole("region", { name: "Audit log entries" }).getByText(address).first().waitFor();
    await markupShown(`audit log, ${address}`);
  }
  await page.getByRole("link", { name: "Deliveries", exact: true }).click();
  await page.getByRole("heading", { name: "Deliveries" }).waitFor();
  await markupShown("deliveries");
  await page.getByRole("link", { name: "Keys", exact: true }).click();
  await page.getByRole("heading", { name: "Keys" }).waitFor();
  await markupShown("keys");
  check(dialogs.length === 0, "no alert() ran in any view");
  await context.close();

  // Another origin cannot make the operator's browser act, with or without the key.
  const other = await (await browser.newContext()).newPage();
  const seen = [];
  other.on("response", (r) => { if (r.url().startsWith(admin)) seen.push([r.request().method(), r.url(), r.status()]); });
  await other.goto(`http://127.0.0.1:${otherPort}/`);
  const keysBefore = (await call("GET", `${admin}/jwks`)).json.length;
  // What the admin listener answered on the two routes tried, by status (its own counters).
  const answered = async () => {
    const metrics = await (await fetch(`${admin}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } })).text();
    return Object.fromEntries(metrics.split("\n")
      .map((l) => l.match(/^hanko_http_requests_total\{listener="admin",route="(\/jwks\/rotate|\/users)",status="(\d+)"\} (\d+)$/))
      .filter(Boolean).map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
  };
  const answeredBefore = await answered();
  const outcomes = await other.evaluate(async ({ admin, apiKey }) => {
    const tries = [
      ["POST /jwks/rotate, no key", `${admin}/jwks/rotate`, { method: "POST", mode: "no-cors" }],
      ["POST /jwks/rotate, with the key", `${admin}/jwks/rotate`, { method: "POST", headers: { authorization: `Bearer ${apiKey}` } }],
      ["GET /users, with the key", `${admin}/users`, { headers: { authorization: `Bearer ${apiKey}` } }],
      ["GET /users, no key", `${admin}/users`, {}],
    ];
    const out = [];
    for (const [name, url, init] of tries) {
      try {
        const r = await fetch(url, init);
        out.push([name, r.type === "opaque" ? "opaque" : r.status]);
      } catch (e) {
        out.push([name, `refused: ${e.message}`]);
      }
    }
    return out;
  }, { admin, apiKey });
  console.log("  other origin's fetches:", JSON.stringify(outcomes));
  console.log("  answers the browser saw:", JSON.stringify(seen));
  const answeredAfter = await answered();
  const changed = Object.fromEntries(Object.entries(answeredAfter)
    .filter(([k, n]) => n !== (answeredBefore[k] ?? 0)).map(([k, n]) => [k, n - (answeredBefore[k] ?? 0)]));
  check(JSON.stringify(changed) === JSON.stringify({ "/jwks/rotate 403": 2, "/users 403": 2 }),
    `each of the 4 fetches from another origin was answered 403 by the admin listener, none otherwise `
    + `(the two with the key stopped at their preflight): ${JSON.stringify(changed)}`);
  check(outcomes.every(([, outcome]) => outcome === "opaque" || String(outcome).startsWith("refused")), "the other page read nothing");
  // The form post navigates, so its answer is the page's.
  const navigation = await Promise.all([
    other.waitForNavigation(),
    other.evaluate(() => document.getElementById("rotate").submit()),
  ]);
  check(navigation[0].status() === 403, "a form posted from another origin to /jwks/rotate is refused 403");
  const keysAfter = (await call("GET", `${admin}/jwks`)).json.length;
  check(keysAfter === keysBefore, `no key was added by the other origin (${keysBefore} keys before and after)`);

  // The zero-setup default: no api key, SQLite, loopback. The console opens without signing in
  // and its changes (same-origin, with an Origin) pass the guard.
  const [devApiPort, devAdminPort] = [await freePort(), await freePort()];
  const devConfig = join(dir, "dev.yaml");
  writeFileSync(devConfig, `server:
  public: { address: "127.0.0.1:${devApiPort}" }
  admin: { address: "127.0.0.1:${devAdminPort}" }
database: { url: "sqlite://${join(dir, "dev.sqlite3")}" }
secrets: { keys: ["console-e2e-secret-0123456789"] }
log: { level: warn }
`);
  devServer = spawn(apiBin, ["--config", devConfig, "serve"], { stdio: ["ignore", "inherit", "inherit"] });
  await untilReady(`http://127.0.0.1:${devApiPort}`, devServer, "the keyless server");
  const dev = await (await browser.newContext()).newPage();
  await dev.goto(`http://localhost:${devAdminPort}/console/`);
  await dev.getByRole("heading", { name: "Users" }).waitFor();
  check(await dev.getByRole("button", { name: "Sign out" }).isHidden(), "without an api key the console opens at once, nothing to sign out of");
  await dev.getByRole("link", { name: "Keys", exact: true }).click();
  await dev.getByRole("button", { name: "Rotate key" }).click();
  await dev.getByRole("button", { name: "Publish now, sign later" }).click();
  await dev.getByRole("status").filter({ hasText: "is published" }).waitFor();
  const devKeys = await (await fetch(`http://127.0.0.1:${devAdminPort}/jwks`)).json();
  check(devKeys.length === 2, "without an api key, the console's own change (a staged rotation) goes through");
  devServer.kill("SIGTERM");

  // Behind a reverse proxy under a path prefix, as docs/operations.md "Operator console" shows: with the
  // Host passed through the console works; with the Host rewritten its requests are refused.
  const proxyPort = await freePort();
  const proxyDir = join(dir, "nginx");
  mkdirSync(join(proxyDir, "logs"), { recursive: true });
  writeFileSync(join(proxyDir, "nginx.conf"), `worker_processes 1;
pid ${proxyDir}/nginx.pid;
error_log ${proxyDir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${proxyDir}/body;
  proxy_temp_path ${proxyDir}/proxy;
  server {
    listen 127.0.0.1:${proxyPort};
    location /ops/ {
      proxy_pass http://127.0.0.1:${adminPort}/;
      proxy_set_header Host $http_host;
    }
    location /rewritten/ {
      proxy_pass http://127.0.0.1:${adminPort}/;
      proxy_set_header Host 127.0.0.1:${adminPort};
    }
  }
}
`);
  const nginx = spawnSync("nginx", ["-p", proxyDir, "-c", join(proxyDir, "nginx.conf")]);
  if (nginx.status !== 0) throw new Error(`nginx: ${nginx.stderr}`);
  proxy = proxyDir;
  const proxied = await (await browser.newContext()).newPage();
  const rosa = await newUser("rosa.proxied@example.com");
  await proxied.goto(`http://127.0.0.1:${proxyPort}/ops/console/`);
  await proxied.getByLabel("API key").fill(apiKey);
  await proxied.getByRole("button", { name: "Sign in" }).click();
  await (await findUser(proxied, rosa.email)).click();
  await proxied.getByRole("button", { name: "Place legal hold" }).click();
  await proxied.getByLabel("Reason").fill("through the proxy");
  await proxied.getByRole("button", { name: "Confirm legal hold" }).click();
  await proxied.getByRole("status").filter({ hasText: "Legal hold placed" }).waitFor();
  check((await call("GET", `${admin}/users/${rosa.id}`)).json.deletion?.hold_reason === "through the proxy",
    "behind nginx at /ops/ with the Host passed through, the console signs in and places a hold");
  // Reads carry no Origin (the browser says same-origin, truly); a change does, and it names
  // another host than the one the proxy sent.
  await proxied.goto(`http://127.0.0.1:${proxyPort}/rewritten/console/#/users/${rosa.id}`);
  await proxied.getByRole("button", { name: "Release hold" }).click();
  await proxied.getByRole("alert").filter({ hasText: "403" }).waitFor();
  check((await call("GET", `${admin}/users/${rosa.id}`)).json.deletion?.hold === true,
    "behind a proxy that rewrites Host, a change from the console is refused (it says 403) and nothing changed");
} finally {
  if (proxy) spawnSync("nginx", ["-p", proxy, "-c", join(proxy, "nginx.conf"), "-s", "stop"]);
  await browser?.close();
  server.kill("SIGTERM");
  devServer?.kill("SIGTERM");
  hookServer.close();
  otherServer.close();
}
