// Smoke test of the local stack (node --test): start it on a temporary
// directory, write through the REST adapter as the desktop would, let the
// Worker process, read back through the Worker's own bindings and the
// adapter, and stop it whatever happens.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fetchRetry } from "./net.mjs";
import { startStack } from "./stack.mjs";

let stack;
let dir;
const P = "proj_00000000a11c";
const PAGE = "page_00000000b0b0";
const BATCH = "batch_20261127_000000";
const T = "2026-11-27T00:00:00.000Z";

const sha = (b) => createHash("sha256").update(b).digest("hex");

async function cf(method, sub, body) {
  const url = `${stack.apiBase}accounts/${stack.accountId}/storage/kv/namespaces${sub}`;
  const r = await fetchRetry(url, {
    method,
    headers: { authorization: "Bearer local", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

let ids;
async function bulkPut(title, pairs) {
  const r = await cf(
    "PUT",
    `/${ids[title]}/bulk`,
    pairs.map(([key, value]) => {
      const v = JSON.stringify(value);
      return { key, value: v, metadata: { h: sha(v), u: T } };
    }),
  );
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json().result, { successful_key_count: pairs.length, unsuccessful_keys: [] });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-stack-"));
  stack = await startStack({ persist: dir, log: () => {} });
});

after(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("lists the eleven namespaces by binding title, creates a new one, refuses a taken title", async () => {
  const r = await cf("GET", "?page=1&per_page=100");
  assert.equal(r.status, 200);
  const list = r.json().result;
  ids = Object.fromEntries(list.map((n) => [n.title, n.id]));
  for (const t of ["NIMBUS_USERS", "NIMBUS_PROJECTS", "NIMBUS_KEYS", "NIMBUS_EMAILS", "NIMBUS_CACHE", "NIMBUS_SESSIONS", "NIMBUS_PAGES", "NIMBUS_BATCHES", "NIMBUS_QUEUE", "NIMBUS_STATUS", "NIMBUS_LOGS"]) {
    assert.ok(ids[t], `namespace ${t} listed`);
  }
  const taken = await cf("POST", "", { title: "NIMBUS_PAGES" });
  assert.equal(taken.status, 400);
  assert.equal(taken.json().errors[0].code, 10014);
  const made = await cf("POST", "", { title: "SCRATCH" });
  assert.equal(made.status, 200, made.text);
  const id = made.json().result.id;
  ids.SCRATCH = id;
  await bulkPut("SCRATCH", [["k", { a: 1 }]]);
  const got = await cf("GET", `/${id}/values/k`);
  assert.equal(got.text, '{"a":1}');
});

test("desktop writes through the adapter; the Worker processes them; both sides read the same KV", async () => {
  await bulkPut("NIMBUS_PROJECTS", [
    [
      `project:${P}`,
      {
        project_id: P,
        user_id: "user_smoke",
        name: "smoke.test",
        created: T,
        settings: { tone: "premium", max_pages_per_batch: 100, default_concurrency: 2, ai_model: "gpt-fake", domain: "smoke.test" },
        usage: { total_pages: 1, total_batches: 1, last_activity: T },
      },
    ],
  ]);
  await bulkPut("NIMBUS_PAGES", [
    [
      `page:${P}:${PAGE}`,
      {
        page_id: PAGE,
        project_id: P,
        batch_id: BATCH,
        source_path: "dist/a.html",
        uploaded: T,
        extraction: {
          engine: "html",
          main_selector: "main",
          head: { title: "A" },
          dimensions: {},
          above_fold_blocks: [{ id: "block-0", type: "h1", content: "Fast watch repair" }],
          rest_of_page_blocks: [{ id: "block-1", type: "p", content: "We offer good service." }],
          selector_map: {},
        },
        content_hash: "c".repeat(64),
      },
    ],
  ]);
  await bulkPut("NIMBUS_BATCHES", [
    [
      `batch:${P}:${BATCH}`,
      {
        batch_id: BATCH,
        project_id: P,
        created: T,
        page_count: 1,
        status: "queued",
        pages: { [PAGE]: { status: "queued", uploaded: T } },
        summary: { completed: 0, failed: 0, pending: 1, average_time_ms: 0 },
      },
    ],
  ]);
  await bulkPut("NIMBUS_STATUS", [[`status:${P}:${PAGE}`, { status: "queued", batch_id: BATCH, updated: T }]]);
  await bulkPut("NIMBUS_QUEUE", [[`queue:${P}`, { items: [{ page_id: PAGE, batch_id: BATCH, priority: 5, queued_at: T, attempts: 0 }], last_processed: "" }]]);

  // the Worker's own binding sees the adapter's write
  const pagesKV = await stack.mf.getKVNamespace("NIMBUS_PAGES", "nimbus-worker");
  const seen = await pagesKV.getWithMetadata(`page:${P}:${PAGE}`, "json");
  assert.equal(seen.value.page_id, PAGE);
  assert.equal(seen.metadata.u, T);

  // the AI fails the first call: the cron sends the page's message, the
  // consumer's attempt fails, message.retry brings it back after a backoff,
  // and the second attempt succeeds: retried, not lost
  stack.ai.setFailRate(1);
  let rep = await stack.process(P, { wait: 0 });
  assert.equal(rep.mode, "queues");
  assert.equal(rep.dispatch.sent, 1, JSON.stringify(rep));
  while (stack.ai.stats().calls < 1) await new Promise((r) => setTimeout(r, 20));
  stack.ai.setFailRate(0);
  rep = await stack.process(P);
  assert.equal(rep.dispatch.sent, 0, "the leased item is not sent twice");
  assert.equal(rep.projects[0].done, 1, JSON.stringify(rep));
  assert.equal(rep.projects[0].remaining, 0, JSON.stringify(rep));
  assert.equal(stack.ai.stats().calls, 2);
  assert.ok(rep.invocations.consumer.count >= 2, JSON.stringify(rep.invocations));
  assert.ok(rep.invocations.consumer.max_kv_ops < 1000);

  // read the results back the way the desktop pulls: list with metadata, bulk get with metadata
  const list = await cf("GET", `/${ids.NIMBUS_STATUS}/keys?prefix=${encodeURIComponent(`status:${P}:`)}&limit=1000`);
  const keys = list.json().result;
  assert.equal(keys.length, 1);
  assert.equal(keys[0].metadata.s, "done");
  const bg = await cf("POST", `/${ids.NIMBUS_PAGES}/bulk/get`, { keys: [`page:${P}:${PAGE}`, "page:none:none"], type: "text", withMetadata: true });
  const vals = bg.json().result.values;
  assert.equal(vals["page:none:none"], null);
  const pv = vals[`page:${P}:${PAGE}`];
  assert.equal(pv.metadata.h, sha(pv.value), "h is the sha256 of the value bytes");
  const pg = JSON.parse(pv.value);
  assert.equal(pg.optimization.source_hash, "c".repeat(64));
  // "Fast" (capitalised) is not in the premium word table, so of the copy
  // only the paragraph changes; the head's title is a block too
  assert.deepEqual(
    pg.optimization.optimized_blocks.map((b) => [b.id, b.optimized_content]),
    [
      ["head-title", "Luxury A"],
      ["block-1", "Our specialists offer exceptional bespoke service."],
    ],
  );
  const md = await cf("GET", `/${ids.NIMBUS_STATUS}/metadata/${encodeURIComponent(`status:${P}:${PAGE}`)}`);
  assert.equal(md.json().result.s, "done");
  const miss = await cf("GET", `/${ids.NIMBUS_STATUS}/values/nothing`);
  assert.equal(miss.status, 404);
  assert.equal(miss.json().errors[0].code, 10009);
});

test("refuses requests without credentials", async () => {
  const r = await fetch(`${stack.apiBase}accounts/${stack.accountId}/storage/kv/namespaces`);
  assert.equal(r.status, 403);
});
