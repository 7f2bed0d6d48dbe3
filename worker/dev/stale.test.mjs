// The local stack with --kv-stale-seconds (node --test): reads through the
// REST adapter are served from a cache per API token for N seconds, and the
// staleness ends when the entry is N seconds old. The adapter's clock is
// moved by hand (startStack's `clock`), so nothing here waits on real time;
// the Worker's own stale reads are shown on the real clock (well inside N).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fetchRetry } from "./net.mjs";
import { startStack } from "./stack.mjs";
import { createStaleReads } from "./stale-kv.mjs";

const N = 30; // seconds of staleness
let stack;
let dir;
let now = 1_800_000_000_000;
let ids;

const sha = (b) => createHash("sha256").update(b).digest("hex");

async function cf(token, method, sub, body) {
  const url = `${stack.apiBase}accounts/${stack.accountId}/storage/kv/namespaces${sub}`;
  const r = await fetchRetry(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    retry: true,
  });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

async function put(token, ns, pairs) {
  const r = await cf(
    token,
    "PUT",
    `/${ids[ns]}/bulk`,
    pairs.map(([key, value]) => ({ key, value, metadata: { h: sha(value) } })),
  );
  assert.equal(r.status, 200, r.text);
}

const value = async (token, ns, key) => {
  const r = await cf(token, "GET", `/${ids[ns]}/values/${encodeURIComponent(key)}`);
  return r.status === 404 ? null : r.text;
};
const bulk = async (token, ns, keys) => (await cf(token, "POST", `/${ids[ns]}/bulk/get`, { keys, type: "text", withMetadata: true })).json().result.values;
const listing = async (token, ns, prefix, limit = 1000, cursor = "") => {
  const q = new URLSearchParams({ prefix, limit: String(limit) });
  if (cursor) q.set("cursor", cursor);
  const r = await cf(token, "GET", `/${ids[ns]}/keys?${q}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-stale-"));
  stack = await startStack({ persist: dir, log: () => {}, kvStaleSeconds: N, clock: () => now });
  const r = await cf("a", "GET", "?per_page=100");
  ids = Object.fromEntries(r.json().result.map((n) => [n.title, n.id]));
});

after(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a reader keeps the version it read for N seconds (its own writes included); another reader and the Worker see the store", async () => {
  const key = "status:proj_00000000a11c:page_00000000b0b0";
  await put("a", "NIMBUS_STATUS", [[key, "v1"]]);
  assert.equal(await value("a", "NIMBUS_STATUS", key), "v1");
  const t0 = now;
  await put("a", "NIMBUS_STATUS", [[key, "v2"]]);
  now = t0 + N * 1000 - 1;
  // value get, bulk get (value and metadata together) and metadata get: all the version read at t0
  assert.equal(await value("a", "NIMBUS_STATUS", key), "v1");
  assert.deepEqual(await bulk("a", "NIMBUS_STATUS", [key]), { [key]: { value: "v1", metadata: { h: sha("v1") } } });
  const md = await cf("a", "GET", `/${ids.NIMBUS_STATUS}/metadata/${encodeURIComponent(key)}`);
  assert.deepEqual(md.json().result, { h: sha("v1") });
  // a reader without an entry reads the store; so does the Worker's binding
  assert.equal(await value("b", "NIMBUS_STATUS", key), "v2");
  const worker = await stack.mf.getKVNamespace("NIMBUS_STATUS", "nimbus-worker");
  assert.equal(await worker.get(key), "v2");
  const st = stack.staleStats();
  assert.ok(st.stale >= 3, JSON.stringify(st));
  // N seconds after the read, the stale version is gone
  now = t0 + N * 1000;
  assert.equal(await value("a", "NIMBUS_STATUS", key), "v2");
  assert.deepEqual(await bulk("a", "NIMBUS_STATUS", [key]), { [key]: { value: "v2", metadata: { h: sha("v2") } } });
  // and b keeps v2 however the key changes, until its own entry is N seconds old
  await put("a", "NIMBUS_STATUS", [[key, "v3"]]);
  assert.equal(await value("b", "NIMBUS_STATUS", key), "v2");
});

test("a missing key is cached as missing; listings are snapshots apart from the values, paged from one snapshot", async () => {
  const p = "page:proj_00000000c0c0:";
  const t0 = now;
  assert.equal(await value("a", "NIMBUS_PAGES", p + "page_000000000000"), null);
  assert.deepEqual((await listing("a", "NIMBUS_PAGES", p)).result, []);
  const keys = Array.from({ length: 25 }, (_, i) => p + "page_" + String(i).padStart(12, "0"));
  await put("a", "NIMBUS_PAGES", keys.map((k) => [k, "{}"]));
  now = t0 + N * 1000 - 1;
  assert.equal(await value("a", "NIMBUS_PAGES", keys[0]), null, "negative lookup cached");
  assert.deepEqual((await listing("a", "NIMBUS_PAGES", p)).result, [], "listing cached");
  assert.equal(await value("a", "NIMBUS_PAGES", keys[1]), "{}", "a key this reader never read is fresh");
  now = t0 + N * 1000;
  assert.equal(await value("a", "NIMBUS_PAGES", keys[0]), "{}");
  // A listing taken in pages of 10: every page from the snapshot of the first,
  // even when keys are added between the pages.
  const first = await listing("a", "NIMBUS_PAGES", p, 10);
  assert.equal(first.result.length, 10);
  assert.ok(first.result_info.cursor);
  await put("a", "NIMBUS_PAGES", [[p + "page_0000000000aa", "{}"]]);
  const names = first.result.map((k) => k.name);
  let cursor = first.result_info.cursor;
  while (cursor) {
    const next = await listing("a", "NIMBUS_PAGES", p, 10, cursor);
    names.push(...next.result.map((k) => k.name));
    cursor = next.result_info.cursor;
  }
  assert.deepEqual(names, keys);
  assert.deepEqual(first.result[0].metadata, { h: sha("{}") });
  now += N * 1000;
  assert.equal((await listing("a", "NIMBUS_PAGES", p)).result.length, 26);
  const bad = await cf("a", "GET", `/${ids.NIMBUS_PAGES}/keys?prefix=${p}&cursor=bm9wZQ`);
  assert.equal(bad.status, 400);
});

test("the Worker reads through its own location's cache: a queue a desktop filled after the Worker read it stays empty to it", async () => {
  const pid = "proj_00000000d0d0";
  const key = `queue:${pid}`;
  await put("a", "NIMBUS_QUEUE", [[key, JSON.stringify({ items: [], last_processed: "" })]]);
  let rep = await stack.process(pid, { wait: 0 });
  assert.equal(rep.dispatch.sent, 0);
  const item = { page_id: "page_00000000e0e0", batch_id: "batch_20261127_000000", priority: 5, queued_at: "2026-11-27T00:00:00.000Z", attempts: 0 };
  await put("a", "NIMBUS_QUEUE", [[key, JSON.stringify({ items: [item], last_processed: "" })]]);
  // Well inside N seconds of the first read (N is 30): the Worker still sees the empty queue.
  rep = await stack.process(pid, { wait: 0 });
  assert.equal(rep.dispatch.sent, 0, JSON.stringify(rep.dispatch));
  const st = await stack.stats();
  assert.ok(st.kv_stale.stale >= 1, JSON.stringify(st.kv_stale));
});

test("stale reads off: every read is the store's", async () => {
  const s = createStaleReads({ seconds: 0 });
  let v = "1";
  assert.equal(await s.get("a", "ns", "k", async () => v), "1");
  v = "2";
  assert.equal(await s.get("a", "ns", "k", async () => v), "2");
  assert.equal(s.enabled, false);
});
