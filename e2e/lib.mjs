// What the end-to-end tests share: a free local port, a check that prints what it proved, and
// waiting for a server to be ready.
import net from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

/** Waits (up to 30 s) until the server at `base` answers `/health/ready` with 200; fails at
 * once if its process `proc` (when given) has exited. */
export async function untilReady(base, proc, name = "server") {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/ready`)).status === 200) return;
    } catch {}
    if (i > 300 || (proc && proc.exitCode !== null)) throw new Error(`${name} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
