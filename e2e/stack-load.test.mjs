// End-to-end on workerd, desktop side simulated over the REST adapter: a
// batch of 200 pages is pushed the way the desktop's sync engine pushes it
// (bulk put with {h,u,s} metadata), the processor is triggered until the
// queue is empty, and the results are read back the way the desktop pulls
// them (key listing with metadata, bulk get). Run twice: with a healthy AI
// server, and with one failing half its calls. `wrangler kv key list --local`
// over the persisted state must list the same keys.
//
//   node --test e2e/stack-load.test.mjs        (make test-e2e runs it)
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fetchRetry, run } from "../worker/dev/net.mjs";
import { startStack, workerDir } from "../worker/dev/stack.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const N = Number(process.env.E2E_PAGES ?? 200);
const sha = (b) => createHash("sha256").update(b).digest("hex");
const T = "2026-11-27T00:00:00.000Z";
const BATCH = "batch_20261127_000000";
const NS = ["NIMBUS_USERS", "NIMBUS_PROJECTS", "NIMBUS_KEYS", "NIMBUS_EMAILS", "NIMBUS_CACHE", "NIMBUS_SESSIONS", "NIMBUS_PAGES", "NIMBUS_BATCHES", "NIMBUS_QUEUE", "NIMBUS_STATUS", "NIMBUS_LOGS"];

function md5(s) {
  return createHash("md5").update(s).digest("hex");
}

class Client {
  constructor(stack) {
    this.stack = stack;
    this.base = `${stack.apiBase}accounts/${stack.accountId}/storage/kv/namespaces`;
  }
  async call(method, sub, body) {
    // Every call here is safe to repeat (bulk put of the same values, reads),
    // so one that meets a dropped kept-alive connection is sent again.
    const r = await fetchRetry(this.base + sub, {
      method,
      retry: true,
      headers: { authorization: "Bearer e2e", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${sub}: HTTP ${r.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }
  async ids() {
    const r = await this.call("GET", "?page=1&per_page=100");
    this.id = Object.fromEntries(r.result.map((n) => [n.title, n.id]));
    for (const t of NS) assert.ok(this.id[t], `namespace ${t}`);
  }
  async put(title, records) {
    for (let i = 0; i < records.length; i += 1000) {
      const chunk = records.slice(i, i + 1000).map(([key, value, s]) => {
        const v = JSON.stringify(value);
        const metadata = { h: sha(v), u: T };
        if (s) metadata.s = s;
        return { key, value: v, metadata };
      });
      const r = await this.call("PUT", `/${this.id[title]}/bulk`, chunk);
      assert.deepEqual(r.result.unsuccessful_keys, []);
    }
  }
  async list(title, prefix) {
    const out = [];
    let cursor = "";
    do {
      const q = `?limit=1000&prefix=${encodeURIComponent(prefix)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const r = await this.call("GET", `/${this.id[title]}/keys${q}`);
      out.push(...r.result);
      cursor = r.result_info?.cursor ?? "";
    } while (cursor);
    return out;
  }
  async getAll(title, keys) {
    const out = {};
    for (let i = 0; i < keys.length; i += 100) {
      const r = await this.call("POST", `/${this.id[title]}/bulk/get`, { keys: keys.slice(i, i + 100), type: "text", withMetadata: true });
      Object.assign(out, r.result.values);
    }
    return out;
  }
}

/** Pushes a project with N pages in one submitted batch, as the desktop would. */
async function pushProject(c, pid, { unique, model = "gpt-fake", n = N }) {
  const N = n;
  const pages = [];
  for (let i = 0; i < N; i++) {
    const source = `dist/local/city-${i}/rolex-repair.html`;
    const id = "page_" + md5(pid + source).slice(0, 12);
    const extraction = {
      engine: "html",
      main_selector: "main",
      head: { title: `Rolex repair in City ${i}` },
      dimensions: { location: `city-${i}`, brand: i % 2 ? "rolex" : "omega", service: "repair" },
      above_fold_blocks: [{ id: "block-0", type: "h1", content: `Rolex repair in City ${i}` }],
      rest_of_page_blocks: [
        { id: "block-1", type: "p", content: unique ? `We offer good service in City ${i}.` : "We offer good service." },
        { id: "block-2", type: "li", content: `Free fast quote ${i}` },
      ],
      selector_map: { "block-0": "main > h1", "block-1": "main > p", "block-2": "main > ul > li" },
    };
    pages.push({ id, source, extraction, hash: sha(JSON.stringify(extraction)) });
  }
  await c.put("NIMBUS_PROJECTS", [
    [
      `project:${pid}`,
      {
        project_id: pid,
        user_id: "user_e2e",
        name: "e2e.test",
        created: T,
        settings: { tone: "premium", max_pages_per_batch: 1000, default_concurrency: 5, ai_model: model, domain: "e2e.test" },
        usage: { total_pages: N, total_batches: 1, last_activity: T },
      },
    ],
  ]);
  await c.put(
    "NIMBUS_PAGES",
    pages.map((p) => [
      `page:${pid}:${p.id}`,
      { page_id: p.id, project_id: pid, batch_id: BATCH, source_path: p.source, uploaded: T, extraction: p.extraction, content_hash: p.hash },
    ]),
  );
  await c.put("NIMBUS_BATCHES", [
    [
      `batch:${pid}:${BATCH}`,
      {
        batch_id: BATCH,
        project_id: pid,
        created: T,
        page_count: N,
        status: "queued",
        pages: Object.fromEntries(pages.map((p) => [p.id, { status: "queued", uploaded: T }])),
        summary: { completed: 0, failed: 0, pending: N, average_time_ms: 0 },
      },
    ],
  ]);
  await c.put(
    "NIMBUS_STATUS",
    pages.map((p) => [`status:${pid}:${p.id}`, { status: "queued", batch_id: BATCH, updated: T }, "queued"]),
  );
  await c.put("NIMBUS_QUEUE", [
    [
      `queue:${pid}`,
      {
        items: pages.map((p, i) => ({ page_id: p.id, batch_id: BATCH, priority: i % 10 === 0 ? 10 : 5, queued_at: T, attempts: 0 })),
        last_processed: "",
      },
    ],
  ]);
  return pages;
}

/**
 * The batch as the desktop pulls it: its summary must equal the counts of
 * its page entries at every observation, and it reads `processing` until
 * its last page is terminal.
 */
async function checkBatch(c, pid) {
  const b = JSON.parse((await c.getAll("NIMBUS_BATCHES", [`batch:${pid}:${BATCH}`]))[`batch:${pid}:${BATCH}`].value);
  const entries = Object.values(b.pages);
  const done = entries.filter((e) => e.status === "done").length;
  const failed = entries.filter((e) => e.status === "failed").length;
  assert.deepEqual(
    { completed: b.summary.completed, failed: b.summary.failed, pending: b.summary.pending },
    { completed: done, failed, pending: entries.length - done - failed },
    "summary equals the entries",
  );
  if (done + failed < entries.length) assert.equal(b.status, "processing", `${done + failed}/${entries.length} terminal`);
  else assert.equal(b.status, "completed");
  return `${b.status} ${done + failed}/${entries.length}`;
}

async function drain(stack, pid, c) {
  const totals = { runs: 0, done: 0, failed: 0, retried: 0, maxOps: 0, seen: [] };
  for (let run = 0; run < 40; run++) {
    const whole = await stack.process(pid);
    const rep = whole.projects[0];
    totals.seen.push(await checkBatch(c, pid));
    // Cloudflare allows 1,000 KV operations per invocation; the Worker
    // budgets for it. The Store refuses the 1,001st, which shows up as an
    // error in the report (asserted below); the count is printed.
    totals.maxOps = Math.max(totals.maxOps, whole.kv.reads + whole.kv.writes);
    // With the fan-out the work runs in queue consumer invocations and the
    // coordinator's folds; the account keeps their highest counts.
    for (const inv of Object.values(whole.invocations ?? {})) totals.maxOps = Math.max(totals.maxOps, inv.max_kv_ops);
    totals.runs++;
    totals.done += rep.done;
    totals.failed += rep.failed;
    totals.retried += rep.retried;
    assert.deepEqual(rep.errors, [], `run ${run} errors`);
    if (rep.remaining === 0) return totals;
  }
  throw new Error(`queue of ${pid} not drained after 40 runs`);
}

async function check(c, pid, pages, { expectFailures }) {
  const statusKeys = await c.list("NIMBUS_STATUS", `status:${pid}:`);
  assert.equal(statusKeys.length, N);
  const byState = {};
  for (const k of statusKeys) byState[k.metadata.s] = (byState[k.metadata.s] ?? 0) + 1;
  const st = await c.getAll("NIMBUS_STATUS", statusKeys.map((k) => k.name));
  let failed = 0;
  for (const [key, v] of Object.entries(st)) {
    assert.equal(v.metadata.h, sha(v.value), `${key}: h is sha256 of the bytes`);
    const s = JSON.parse(v.value);
    assert.ok(s.status === "done" || s.status === "failed", `${key} is terminal: ${s.status}`);
    if (s.status === "failed") {
      failed++;
      assert.match(s.error.code, /^AI_/, `${key} failed with a code`);
    }
  }
  const pg = await c.getAll("NIMBUS_PAGES", pages.map((p) => `page:${pid}:${p.id}`));
  let optimized = 0;
  for (const p of pages) {
    const v = pg[`page:${pid}:${p.id}`];
    assert.ok(v, `page ${p.id} still there`);
    const rec = JSON.parse(v.value);
    assert.deepEqual(rec.extraction, p.extraction, `page ${p.id}: extraction untouched`);
    if (rec.optimization) {
      optimized++;
      assert.equal(rec.optimization.source_hash, p.hash);
      assert.ok(rec.optimization.changes >= 1);
    }
  }
  const b = JSON.parse((await c.getAll("NIMBUS_BATCHES", [`batch:${pid}:${BATCH}`]))[`batch:${pid}:${BATCH}`].value);
  assert.equal(b.status, "completed");
  assert.equal(b.summary.completed + b.summary.failed, N);
  assert.equal(b.summary.pending, 0);
  assert.equal(b.summary.failed, failed);
  assert.equal(optimized, N - failed, "every done page has its optimization");
  assert.ok(b.summary.average_time_ms >= 0);
  const logs = await c.list("NIMBUS_LOGS", `logs:${pid}:`);
  assert.equal(logs.length, N, "every page has a log");
  const q = JSON.parse((await c.getAll("NIMBUS_QUEUE", [`queue:${pid}`]))[`queue:${pid}`].value);
  assert.deepEqual(q.items, []);
  if (expectFailures) assert.ok(failed > 0, "with half the AI calls failing, some pages exhaust their retries");
  else assert.equal(failed, 0);
  return { byState, failed };
}

/**
 * Checks every value the Worker wrote for a project with the desktop's own
 * model package (e2e/kvcheck): it must decode and validate, and be exactly
 * Go's canonical bytes.
 */
async function kvcheck(c, pid, bin) {
  const pairs = [];
  const add = async (title, prefix, filter = () => true) => {
    const keys = (await c.list(title, prefix)).map((k) => k.name);
    const vals = await c.getAll(title, keys);
    for (const k of keys) if (vals[k] && filter(vals[k].value)) pairs.push({ key: k, value: vals[k].value });
  };
  await add("NIMBUS_STATUS", `status:${pid}:`);
  await add("NIMBUS_BATCHES", `batch:${pid}:`);
  await add("NIMBUS_QUEUE", `queue:${pid}`);
  await add("NIMBUS_LOGS", `logs:${pid}:`);
  await add("NIMBUS_CACHE", "cache:");
  // pages the Worker rewrote (the others still hold the test's own bytes)
  await add("NIMBUS_PAGES", `page:${pid}:`, (v) => v.includes('"optimization"'));
  const out = await run(bin, [], { input: JSON.stringify(pairs) });
  return { count: pairs.length, out: out.trim() };
}

// Child processes run asynchronously (worker/dev/net.mjs run): this process
// serves the stack, and a blocked event loop breaks its kept-alive sockets.
async function buildKVCheck(dir) {
  const bin = path.join(dir, "kvcheck");
  await run("go", ["build", "-o", bin, "./e2e/kvcheck"], { cwd: repoRoot });
  return bin;
}

async function wranglerKeys(persist, binding) {
  const out = await run("npx", ["wrangler", "kv", "key", "list", "--local", "--persist-to", persist, "--binding", binding], {
    cwd: workerDir,
  });
  return JSON.parse(out.slice(out.indexOf("[")))
    .map((k) => k.name)
    .sort();
}

describe(`stack end to end: ${N} pages`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-e2e-"));
  let stack;
  let kvcheckBin;
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("healthy AI: every page done; wrangler sees the same keys", async (t) => {
    kvcheckBin = await buildKVCheck(dir);
    // 100 pages a run at most: the KV budget (1,000 operations) decides.
    // 100 pages a run at most on the cron path; 50 messages a cron run on
    // the fan-out, so a batch is processed a few pages at a time.
    stack = await startStack({ persist: dir, log: () => {}, maxPagesPerRun: 100, dispatchMax: 50 });
    const c = new Client(stack);
    await c.ids();
    const pid = "proj_e2e000000001";
    // gpt-4, the old default, has no JSON mode: the fake answers
    // response_format with OpenAI's 400 and the rest in a ```json fence.
    const pages = await pushProject(c, pid, { unique: false, model: "gpt-4" });
    const t0 = Date.now();
    const totals = await drain(stack, pid, c);
    const ms = Date.now() - t0;
    const r = await check(c, pid, pages, { expectFailures: false });
    t.diagnostic(`${N} pages in ${ms} ms over ${totals.runs} runs (${Math.round(N / (ms / 1000))} pages/s); AI calls ${stack.ai.stats().calls}`);
    t.diagnostic(`highest KV operation count of one invocation: ${totals.maxOps} (limit 1,000)`);
    t.diagnostic(`batch after each run: ${totals.seen.join(", ")}`);
    assert.ok(totals.seen.length >= 4, "processed a few pages at a time");
    assert.ok(totals.maxOps < 1000, `an invocation made ${totals.maxOps} KV operations`);
    assert.equal(r.byState.done, N);
    const kc = await kvcheck(c, pid, kvcheckBin);
    t.diagnostic(kc.out);
    assert.ok(kc.count > 4 * N, `kvcheck saw ${kc.count} values`);
    for (const binding of ["NIMBUS_PAGES", "NIMBUS_STATUS", "NIMBUS_BATCHES", "NIMBUS_QUEUE"]) {
      const viaREST = (await c.list(binding, "")).map((k) => k.name).sort();
      assert.deepEqual(await wranglerKeys(dir, binding), viaREST, `wrangler kv key list --local --binding ${binding}`);
    }
  });

  test("AI failing half its calls: the batch completes with retries, exhausted pages failed with a code, nothing lost", async (t) => {
    stack.ai.setFailRate(0.5);
    const c = new Client(stack);
    await c.ids();
    const pid = "proj_e2e000000002";
    const before = stack.ai.stats();
    const pages = await pushProject(c, pid, { unique: true });
    const totals = await drain(stack, pid, c);
    const r = await check(c, pid, pages, { expectFailures: true });
    const after = stack.ai.stats();
    t.diagnostic(
      `done ${N - r.failed}, failed ${r.failed}, retried ${totals.retried} over ${totals.runs} runs; AI calls ${after.calls - before.calls}, injected failures ${after.failed - before.failed}`,
    );
    t.diagnostic(`highest KV operation count of one invocation: ${totals.maxOps} (limit 1,000)`);
    assert.ok(totals.maxOps < 1000, `an invocation made ${totals.maxOps} KV operations`);
    assert.ok(totals.retried > 0);
    t.diagnostic((await kvcheck(c, pid, kvcheckBin)).out);
    // with p = 0.5 per call and 3 attempts, about 1/8 of the pages exhaust them
    assert.ok(r.failed < N / 4, `failed ${r.failed} is far above the expected ~${N / 8}`);
  });

  test("fan-out: two overlapping cron runs with slow AI answers cost exactly one AI request a page", async (t) => {
    stack.ai.setFailRate(0);
    stack.ai.setLatency(400);
    const c = new Client(stack);
    await c.ids();
    const pid = "proj_e2e000000003";
    const n = 60;
    const pages = await pushProject(c, pid, { unique: true, n });
    const before = stack.ai.stats().calls;
    // two cron runs a moment apart, both waiting for what they sent
    const [a, b] = await Promise.all([stack.process(pid), new Promise((r) => setTimeout(r, 300)).then(() => stack.process(pid))]);
    assert.equal(a.dispatch.sent + b.dispatch.sent, n, `sent ${a.dispatch.sent} + ${b.dispatch.sent}`);
    const totals = await drain(stack, pid, c);
    stack.ai.setLatency(0);
    const calls = stack.ai.stats().calls - before;
    t.diagnostic(`${n} pages, two overlapping runs sent ${a.dispatch.sent} + ${b.dispatch.sent}; AI calls ${calls}; highest KV count of one invocation ${totals.maxOps}`);
    assert.equal(calls, n, "each page exactly one AI request");
    const st = await c.list("NIMBUS_STATUS", `status:${pid}:`);
    assert.deepEqual([...new Set(st.map((k) => k.metadata.s))], ["done"]);
    assert.equal(pages.length, n);
  });

  test("fan-out: 429 with Retry-After: 5, then success: the pages end done, retried no sooner than 5 s", async (t) => {
    stack.ai.setRateLimit(0.25, 5);
    const c = new Client(stack);
    await c.ids();
    const pid = "proj_e2e000000004";
    const n = 40;
    const pages = await pushProject(c, pid, { unique: true, n });
    const totals = await drain(stack, pid, c);
    stack.ai.setRateLimit(0);
    const logs = await c.getAll("NIMBUS_LOGS", pages.map((p) => `logs:${pid}:${p.id}`));
    const status = await c.getAll("NIMBUS_STATUS", pages.map((p) => `status:${pid}:${p.id}`));
    let limited = 0;
    let minGap = Infinity;
    for (const p of pages) {
      const entries = JSON.parse(logs[`logs:${pid}:${p.id}`].value).entries;
      const s = JSON.parse(status[`status:${pid}:${p.id}`].value);
      const starts = entries.filter((e) => e.step === "process" && /^attempt \d+ of \d+: optimizing/.test(e.message));
      const fails = entries.filter((e) => e.step === "process" && /AI_RATE_LIMITED/.test(e.message));
      if (fails.length === 0) {
        assert.equal(s.status, "done");
        continue;
      }
      limited++;
      // every attempt after a rate-limited one started 5 s or more later
      for (const f of fails) {
        const next = starts.find((e) => e.timestamp > f.timestamp);
        if (!next) continue;
        minGap = Math.min(minGap, Date.parse(next.timestamp) - Date.parse(f.timestamp));
      }
      if (s.status === "failed") assert.equal(s.error.code, "AI_RATE_LIMITED", `${p.id}: ${JSON.stringify(s.error)}`);
      else assert.equal(s.status, "done");
    }
    t.diagnostic(`${limited} of ${n} pages met a 429 (Retry-After: 5); shortest wait before the next attempt ${minGap} ms; ${totals.runs} runs, highest KV count ${totals.maxOps}`);
    assert.ok(limited > 0, "some pages were rate limited");
    assert.ok(minGap >= 5000, `a retry came ${minGap} ms after its 429`);
  });
});
