#!/usr/bin/env node
// make bench-worker: throughput of the old cron processor and of the
// fan-out on Queues, side by side in one run, on the local stack with
// Cloudflare's limits on (1,000 KV operations per invocation, one write a
// second per key) and a fake AI that answers after a fixed latency.
//
//   node dev/bench.mjs [--pages 2000] [--latency-ms 500] [--budget 1500] [--old-runs 3] [--concurrency 50] [--verbose]
//
// Old design (FANOUT=cron): the cron runs once a minute and processes what
// one invocation can: MAX_PAGES_PER_RUN pages (10 as issue 10 measured it;
// 100 with the KV budget deciding, the step before the fan-out). Pages a minute = pages per
// invocation x invocations a minute (1, or fewer if one took longer than a
// minute); --old-runs invocations over the same 2,000-page queue are
// measured, not all 2,000 pages (that would take half an hour).
// New design (FANOUT=queues): the cron ticks every 60 s as in production
// and fans out; the whole batch is timed from the first tick until its
// batch record reads completed. Its pages a minute are divided by the AI
// request budget it was given (AI_REQUESTS_PER_MINUTE).
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStack } from "./stack.mjs";

function args(argv) {
  const o = { pages: 2000, latencyMs: 500, budget: 1500, oldRuns: 3, concurrency: 50, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const v = () => Number(argv[++i]);
    if (argv[i] === "--pages") o.pages = v();
    else if (argv[i] === "--latency-ms") o.latencyMs = v();
    else if (argv[i] === "--budget") o.budget = v();
    else if (argv[i] === "--old-runs") o.oldRuns = v();
    else if (argv[i] === "--concurrency") o.concurrency = v();
    else if (argv[i] === "--verbose") o.verbose = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

const T = new Date(Date.now() - 3600_000).toISOString();
const BATCH = "batch_20261201_000000";
const md5 = (s) => createHash("md5").update(s).digest("hex");

async function seed(stack, pid, n) {
  const kv = async (b) => stack.mf.getKVNamespace(b, "nimbus-worker");
  const [projects, pagesNS, batches, statuses, queues] = await Promise.all(
    ["NIMBUS_PROJECTS", "NIMBUS_PAGES", "NIMBUS_BATCHES", "NIMBUS_STATUS", "NIMBUS_QUEUE"].map(kv),
  );
  await projects.put(
    `project:${pid}`,
    JSON.stringify({
      project_id: pid,
      user_id: "user_bench",
      name: "bench.test",
      created: T,
      settings: { tone: "premium", max_pages_per_batch: 100000, default_concurrency: 5, ai_model: "gpt-fake", domain: "bench.test" },
      usage: { total_pages: n, total_batches: 1, last_activity: T },
    }),
  );
  const ids = [];
  const work = [];
  for (let i = 0; i < n; i++) {
    const id = "page_" + md5(pid + `dist/p-${i}.html`).slice(0, 12);
    ids.push(id);
    const extraction = {
      engine: "html",
      main_selector: "main",
      head: { title: `Watch repair in town ${i}` },
      dimensions: { location: `town-${i}` },
      above_fold_blocks: [{ id: "block-0", type: "h1", content: `Watch repair in town ${i}` }],
      rest_of_page_blocks: [
        { id: "block-1", type: "p", content: `We offer good service in town ${i}.` },
        { id: "block-2", type: "li", content: `Free fast quote ${i}` },
      ],
      selector_map: {},
    };
    work.push(pagesNS.put(`page:${pid}:${id}`, JSON.stringify({ page_id: id, project_id: pid, batch_id: BATCH, source_path: `dist/p-${i}.html`, uploaded: T, extraction, content_hash: md5(String(i)).repeat(2) })));
    work.push(statuses.put(`status:${pid}:${id}`, JSON.stringify({ status: "queued", batch_id: BATCH, updated: T })));
    if (work.length >= 200) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
  await batches.put(
    `batch:${pid}:${BATCH}`,
    JSON.stringify({
      batch_id: BATCH,
      project_id: pid,
      created: T,
      page_count: n,
      status: "queued",
      pages: Object.fromEntries(ids.map((id) => [id, { status: "queued", uploaded: T }])),
      summary: { completed: 0, failed: 0, pending: n, average_time_ms: 0 },
    }),
  );
  await queues.put(`queue:${pid}`, JSON.stringify({ items: ids.map((id) => ({ page_id: id, batch_id: BATCH, priority: 5, queued_at: T, attempts: 0 })), last_processed: "" }));
  return { batches };
}

const o = args(process.argv.slice(2));
const quiet = () => {};
const pid = "proj_be0c00000001"; // proj_ + 12 hex: the Store validates every write
const fmt = (x, d = 1) => x.toFixed(d);
console.log(`bench-worker: ${o.pages} pages, fake AI latency ${o.latencyMs} ms, limits on (KV_OPS_LIMIT 1000 per invocation, 1 write/s per key)`);

// ---- old: the cron processor ------------------------------------------------
// Measured twice: as issue 10 found it (MAX_PAGES_PER_RUN 10: "10 pages a
// minute"), and with the KV-budgeted cron of the session before the fan-out
// (MAX_PAGES_PER_RUN 100, as many pages as 1,000 KV operations allow).
async function measureCron(maxPagesPerRun, label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-bench-old-"));
  const stack = await startStack({ persist: dir, log: quiet, quietWorker: true, fanout: "cron", aiLatencyMs: o.latencyMs, maxPagesPerRun });
  try {
    await seed(stack, pid, o.pages);
    const runs = [];
    for (let r = 0; r < o.oldRuns; r++) {
      const t0 = Date.now();
      const rep = await stack.process(pid);
      const p = rep.projects[0];
      if (p.errors.length) throw new Error(`${label}: ${p.errors.slice(0, 3).join("; ")}`);
      runs.push({ ms: Date.now() - t0, pages: p.done + p.failed, ops: rep.kv.reads + rep.kv.writes });
    }
    const pages = runs.reduce((n, r) => n + r.pages, 0) / runs.length;
    const ms = runs.reduce((n, r) => n + r.ms, 0) / runs.length;
    // One cron invocation a minute; one longer than a minute delays the next.
    const perMin = (pages * 60000) / Math.max(60000, ms);
    const maxOps = Math.max(...runs.map((r) => r.ops));
    console.log(
      `${label}: ${fmt(pages)} pages per cron invocation (${runs.map((r) => r.pages).join(", ")}), ${fmt(ms / 1000)} s each, one invocation a minute -> ${fmt(perMin)} pages/min; highest KV ops per invocation ${maxOps}`,
    );
    return { perMin, pages, ms, maxOps };
  } finally {
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
let old = { perMin: NaN };
let cron100 = { perMin: NaN };
if (o.oldRuns > 0) {
  old = await measureCron(10, "old  (FANOUT=cron, MAX_PAGES_PER_RUN 10, as filed)");
  cron100 = await measureCron(100, "cron (FANOUT=cron, MAX_PAGES_PER_RUN 100, KV-budgeted)");
}

// ---- new: fan-out on Queues --------------------------------------------------
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-bench-new-"));
  const stack = await startStack({ persist: dir, log: quiet, quietWorker: !o.verbose, fanout: "queues", aiBudget: o.budget, aiLatencyMs: o.latencyMs, queueConcurrency: o.concurrency });
  try {
    const { batches } = await seed(stack, pid, o.pages);
    const t0 = Date.now();
    let ticks = 0;
    const tick = async () => {
      ticks++;
      await stack.process(pid, { wait: 0 });
    };
    await tick();
    const timer = setInterval(() => tick().catch((e) => console.error(`tick: ${e.message}`)), 60000);
    let b;
    let last = "";
    let lastChange = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      b = JSON.parse(await batches.get(`batch:${pid}:${BATCH}`));
      if (b.status === "completed" || b.status === "failed") break;
      const now = JSON.stringify(b.summary);
      if (now !== last) [last, lastChange] = [now, Date.now()];
      // No progress for two cron minutes: something is wrong, say so rather than hang.
      if (Date.now() - lastChange > 150000) throw new Error(`no progress for 150 s: ${now}; ${JSON.stringify(await stack.stats())}`);
    }
    clearInterval(timer);
    const ms = Date.now() - t0;
    const perMin = (o.pages * 60000) / ms;
    const st = await stack.stats();
    const inv = st.invocations;
    const maxOps = Math.max(...Object.values(inv).map((i) => i.max_kv_ops));
    console.log(
      `new  (FANOUT=queues): ${o.pages} pages in ${fmt(ms / 1000)} s over ${ticks} cron tick(s) -> ${fmt(perMin)} pages/min (done ${b.summary.completed}, failed ${b.summary.failed}); AI calls ${stack.ai.stats().calls}, 429s ${stack.ai.stats().rate_limited}`,
    );
    console.log(
      `new  invocations: consumer ${inv.consumer?.count} (highest KV ops ${inv.consumer?.max_kv_ops}), fold ${inv.fold?.count} (highest ${inv.fold?.max_kv_ops}), dispatch ${inv.dispatch?.count} (highest ${inv.dispatch?.max_kv_ops}); highest of any invocation ${maxOps} (limit 1,000)`,
    );
    console.log(`new / old:     ${fmt(perMin / old.perMin)}x the pages per minute of the old design (goal >= 100x)`);
    console.log(`new / cron100: ${fmt(perMin / cron100.perMin)}x the pages per minute of the KV-budgeted cron`);
    console.log(`new / budget:  ${fmt(perMin, 0)} pages/min of an AI budget of ${o.budget} requests/min = ${fmt(perMin / o.budget, 2)} of the budget (goal >= 0.8)`);
  } finally {
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
