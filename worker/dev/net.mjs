// Helpers shared by the local stack and the Node tests that run beside it.
//
// Two rules, because the stack (Miniflare, the KV REST adapter, the fake AI)
// and its test client share one Node process and one event loop:
//
//  1. No synchronous child process while the stack runs: execFileSync blocks
//     the loop for the whole child (wrangler takes 2-5 s), keep-alive timers
//     do not fire, and the next request on a kept-alive socket meets one the
//     server closed meanwhile (ECONNRESET). run() is the async way.
//  2. A request that meets a kept-alive connection closed by the other side
//     before any answer is sent once more, on a new connection, when it is
//     safe to repeat (fetchRetry). Go's net/http does the same for idempotent
//     requests; real HTTP peers (Cloudflare's edge among them) close idle
//     connections whenever they like, so clients must cope.
import { spawn } from "node:child_process";

// Error codes undici gives (as err.cause.code) when the socket was closed or
// reset under a request.
const RECONNECT_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

/** True for a fetch failure caused by a connection that went away. */
export function isConnectionDrop(err) {
  if (!(err instanceof TypeError)) return false;
  let c = err.cause;
  for (let depth = 0; c && depth < 4; depth++, c = c.cause) {
    if (RECONNECT_CODES.has(c.code)) return true;
    if (typeof c.message === "string" && /other side closed|socket hang up/i.test(c.message)) return true;
  }
  return false;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/**
 * fetch that repeats a request once when its connection was dropped.
 * Only idempotent methods are repeated unless init.retry is true (a POST
 * that only reads, such as KV bulk get); init.retry false never repeats.
 */
export async function fetchRetry(url, init = {}) {
  const { retry, ...rest } = init;
  const method = (rest.method ?? "GET").toUpperCase();
  const repeatable = retry ?? IDEMPOTENT.has(method);
  try {
    return await fetch(url, rest);
  } catch (e) {
    if (!repeatable || !isConnectionDrop(e)) throw e;
    return await fetch(url, rest);
  }
}

/**
 * Runs a command without blocking the event loop; resolves with its stdout,
 * rejects with its exit code and stderr. options: cwd, input (written to
 * stdin), env, timeoutMs (default 5 minutes).
 */
export function run(cmd, args, { cwd, input, env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(" ")}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      if (code === 0) return resolve(stdout);
      const stderr = Buffer.concat(err).toString("utf8");
      reject(new Error(`${cmd} ${args.join(" ")}: exit ${code ?? signal}: ${stderr.slice(-2000)}`));
    });
    child.stdin.on("error", () => {}); // a child that exits early closes its stdin
    child.stdin.end(input ?? "");
  });
}
