// node --test dev/net.test.mjs: fetchRetry repeats a request whose kept-alive
// connection was dropped (idempotent methods, or retry: true) and nothing
// else; run() never blocks the event loop and reports a failing child.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { fetchRetry, isConnectionDrop, run } from "./net.mjs";

let server;
let base;
let seen = 0;
// The first request on every fresh path is answered by resetting the socket,
// as a server does that closed an idle kept-alive connection under the
// request; the second gets 200.
const dropped = new Set();
before(async () => {
  server = http.createServer((req, res) => {
    seen++;
    if (!dropped.has(req.url)) {
      dropped.add(req.url);
      req.socket.destroy();
      return;
    }
    res.end(`ok ${req.method}`);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((r) => server.close(r)));

test("an idempotent request is sent again after a dropped connection", async () => {
  for (const method of ["GET", "PUT"]) {
    const before = seen;
    const r = await fetchRetry(`${base}/idem-${method}`, { method, body: method === "PUT" ? "v" : undefined });
    assert.equal(await r.text(), `ok ${method}`);
    assert.equal(seen - before, 2, `${method}: one drop, one retry`);
  }
});

test("a POST is repeated only when the caller says it is safe", async () => {
  await assert.rejects(fetchRetry(`${base}/post-plain`, { method: "POST", body: "x" }), (e) => isConnectionDrop(e));
  const r = await fetchRetry(`${base}/post-read`, { method: "POST", body: "x", retry: true });
  assert.equal(await r.text(), "ok POST");
  await assert.rejects(fetchRetry(`${base}/get-never`, { retry: false }), (e) => isConnectionDrop(e));
});

test("other failures are not retried", async () => {
  const before = seen;
  await assert.rejects(fetchRetry("http://127.0.0.1:1/", {}), (e) => !isConnectionDrop(e));
  assert.equal(seen, before);
});

test("run: async child with stdin, stdout and a failing exit named", async () => {
  let ticks = 0;
  const iv = setInterval(() => ticks++, 10);
  const out = await run(process.execPath, ["-e", "setTimeout(()=>{let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(s.toUpperCase()))},300)"], { input: "abc" });
  clearInterval(iv);
  assert.equal(out.trim(), "ABC");
  assert.ok(ticks >= 10, `the event loop ran while the child did (${ticks} ticks)`);
  await assert.rejects(run(process.execPath, ["-e", "console.error('boom');process.exit(3)"]), /exit 3: boom/);
});
