// Seeds users and sessions through the admin API; writes one session token per line.
// Usage: node seed.mjs ADMIN_URL COUNT OUT_FILE [CONCURRENCY]
import { writeFileSync } from "node:fs";

const [admin, countArg, out, concurrencyArg] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg ?? 32);
const tokens = new Array(count);
let next = 0;

async function post(path, body) {
  const res = await fetch(`${admin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function worker() {
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const user = await post("/users", {
      emails: [{ address: `bench-${process.pid}-${i}@example.com`, is_primary: true, is_verified: true }],
    });
    const session = await post("/sessions", { user_id: user.id, user_agent: "bench" });
    tokens[i] = session.session_token;
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
writeFileSync(out, tokens.join("\n") + "\n");
