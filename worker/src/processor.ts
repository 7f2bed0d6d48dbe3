// The queue processor: drains queue:{project_id} for every project (cron) or
// one project (POST /__process). Per run and project it takes items by
// priority (10 first) then age, at most MAX_PAGES_PER_RUN, and processes them
// with at most settings.default_concurrency in flight. For each page it
// writes: status `processing` (current_step, progress), the optimization
// into the page record (source_hash = the page's content_hash), status `done`
// with `result`, the batch's page entry (summary derived by the merge), and
// log entries with duration_ms. Failures increment the item's attempts; at
// MAX_ATTEMPTS (3) the page is `failed` with a code.
//
// Superseded pages: the queue item does not carry a content hash, so a page
// whose content changed after it was queued is detected by its record:
//   - page.batch_id is a later batch than the item's (resubmitted), or
//   - page.uploaded is later than the page's `uploaded` in the item's batch
//     entry (or, without an entry, than the item's queued_at): the desktop
//     rewrites a page record only when its content_hash changed, so a newer
//     upload means different content than what was queued.
// Such a page is failed for that batch with code SUPERSEDED (no AI call);
// the later batch, if any, processes the new content.
//
// Writes per page are few on purpose (KV allows about one write per second
// per key, and 1,000 operations per invocation): status twice, page, logs
// and the page's cache record once; the batch and the queue once, at the
// end of a run.

import { intVar, type Env } from "./env";
import { cmpTime, finishBatch, mergeBatchPage, sortQueue } from "./merge";
import { optimizeBlocks, providerFor } from "./provider/index";
import { ProcessError, type BlockInput, type Provider } from "./provider/types";
import { RecordError, Store } from "./store";
import type {
  BatchData,
  BatchPage,
  Block,
  LogData,
  LogEntry,
  PageData,
  ProjectData,
  QueueData,
  QueueItem,
  StatusData,
} from "./types";
import { BLOCK_ID_META_DESCRIPTION, BLOCK_ID_TITLE, BLOCK_TYPE_META_DESCRIPTION, BLOCK_TYPE_TITLE } from "./types";

export interface RunOptions {
  /** Process only this project. */
  project?: string;
  /** Process only these projects, in one invocation (tests). */
  projects?: string[];
  provider?: Provider;
  now?: () => Date;
}

export interface ProjectReport {
  project_id: string;
  picked: number;
  done: number;
  failed: number;
  retried: number;
  superseded: number;
  pruned: number;
  leased: number;
  remaining: number;
  ai_calls: number;
  cache_hits: number;
  max_in_flight: number;
  concurrency: number;
  /** Page ids in the order processing started. */
  order: string[];
  errors: string[];
  /** KV operations this project's run made (reads + writes). */
  kv_ops: number;
  /** Pages left queued for the next run to stay within the KV budget. */
  deferred: number;
}

export interface RunReport {
  projects: ProjectReport[];
  kv: { reads: number; writes: number; skipped: number };
}

const TERMINAL = new Set(["done", "failed"]);

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

export async function runProcessor(env: Env, opts: RunOptions = {}): Promise<RunReport> {
  const store = new Store(env);
  const now = opts.now ?? (() => new Date());
  let projects: string[];
  if (opts.project) projects = [opts.project];
  else if (opts.projects) projects = [...opts.projects];
  else projects = (await store.list(env.NIMBUS_QUEUE, "queue:")).map((k) => k.slice("queue:".length));
  const reports: ProjectReport[] = [];
  let provider = opts.provider;
  // Projects share the invocation's KV budget: each gets an equal share of
  // what is left (what one does not use passes to the next), and the
  // starting project rotates from run to run, so one big queue never
  // starves the others.
  if (projects.length > 1) {
    const shift = Math.floor(now().getTime() / 60000) % projects.length;
    projects = [...projects.slice(shift), ...projects.slice(0, shift)];
  }
  for (const [i, p] of projects.entries()) {
    try {
      provider ??= providerFor(env);
      const ceiling = store.total() + Math.floor((store.opsLimit - store.total()) / (projects.length - i));
      reports.push(await processProject(env, store, provider, p, now, ceiling));
    } catch (e) {
      // One broken project (bad record, misconfiguration) must not stop the others.
      console.error(JSON.stringify({ msg: "processor: project failed", project: p, error: String(e) }));
      reports.push({ ...emptyReport(p), errors: [String((e as Error).message ?? e)] });
    }
  }
  return { projects: reports, kv: { ...store.ops } };
}

function emptyReport(p: string): ProjectReport {
  return {
    project_id: p,
    picked: 0,
    done: 0,
    failed: 0,
    retried: 0,
    superseded: 0,
    pruned: 0,
    leased: 0,
    remaining: 0,
    ai_calls: 0,
    cache_hits: 0,
    max_in_flight: 0,
    concurrency: 0,
    order: [],
    errors: [],
    kv_ops: 0,
    deferred: 0,
  };
}

// The KV budget of one invocation (Store.opsLimit, Cloudflare's 1,000) is
// shared by every project of the run. A page costs about PAGE_OPS_BASE
// operations whatever its size (status, page, logs and its one cache
// record, read and written); the run keeps FLUSH_RESERVE (a fifth of a
// small limit) for the batch and queue writes that close each project. The
// first pages are started on PAGE_OPS_GUESS, the later ones on what the
// finished ones cost.
const PAGE_OPS_BASE = 14;
const FLUSH_RESERVE = 40;
const PAGE_OPS_GUESS = 30;

function itemKey(it: { batch_id: string; page_id: string }): string {
  return it.batch_id + "/" + it.page_id;
}

async function processProject(
  env: Env,
  store: Store,
  provider: Provider,
  projectId: string,
  now: () => Date,
  ceiling = store.opsLimit,
): Promise<ProjectReport> {
  const rep = emptyReport(projectId);
  const ops0 = store.total();
  try {
    return await processProjectIn(env, store, provider, projectId, now, rep, ceiling);
  } finally {
    rep.kv_ops = store.total() - ops0;
  }
}

async function processProjectIn(
  env: Env,
  store: Store,
  provider: Provider,
  projectId: string,
  now: () => Date,
  rep: ProjectReport,
  ceiling: number,
): Promise<ProjectReport> {
  const queueKey = `queue:${projectId}`;
  const queue = await store.get<QueueData>(queueKey);
  const items = sortQueue([...(queue?.items ?? [])]);
  if (items.length === 0) return rep;

  const project = await store.get<ProjectData>(`project:${projectId}`);
  const s = project?.settings;
  const concurrency = clamp(Math.floor(Number(s?.default_concurrency) || 5), 1, 50);
  const model = s?.ai_model || env.AI_DEFAULT_MODEL || "gpt-4o-mini";
  const tone = s?.tone || "professional";
  const domain = s?.domain || project?.name || "";
  const maxPages = intVar(env.MAX_PAGES_PER_RUN, 100, 1);
  // What a page costs in KV operations, learnt as pages finish.
  let perPage = PAGE_OPS_GUESS;
  // This project's share of the invocation's operations (runProcessor).
  const budget = Math.min(ceiling, store.opsLimit);
  // A fifth of this project's share at most: with many projects in one run
  // each share is small, and a fixed 40 would leave no room for a page.
  const reserve = Math.min(FLUSH_RESERVE, Math.floor((budget - store.total()) / 5));
  const fits = (pages: number) => store.total() + pages * perPage + reserve <= budget;
  // The first page starts even when the guess is more than a small budget
  // allows (the free plan's 50 operations): it is measured, not guessed.
  perPage = Math.max(PAGE_OPS_BASE, Math.min(perPage, budget - store.total() - reserve));
  const maxAttempts = intVar(env.MAX_ATTEMPTS, 3, 1);
  const leaseMs = intVar(env.LEASE_MS, 120000);
  rep.concurrency = concurrency;

  // Pick: walk the queue in order, reading each page's status; terminal ones
  // are pruned, ones another invocation is actively processing are skipped.
  const terminal = new Set<string>();
  const picked: QueueItem[] = [];
  const maxScan = maxPages * 4;
  let scanned = 0;
  for (const it of items) {
    if (picked.length >= maxPages || scanned >= maxScan) break;
    // At least the cheapest page cost must fit; the runners below check the
    // measured cost before each page starts.
    if (store.total() + (picked.length + 1) * PAGE_OPS_BASE + reserve > budget) {
      rep.deferred = items.length - scanned;
      break;
    }
    scanned++;
    const st = await store.get<StatusData>(`status:${projectId}:${it.page_id}`);
    if (st && st.batch_id === it.batch_id && TERMINAL.has(st.status)) {
      terminal.add(itemKey(it));
      continue;
    }
    if (st && st.batch_id > it.batch_id) {
      // The page's status belongs to a later batch: this item is stale.
      terminal.add(itemKey(it));
      continue;
    }
    if (
      st &&
      st.batch_id === it.batch_id &&
      st.status === "processing" &&
      st.processing?.current_step !== "retry_wait" &&
      now().getTime() - Date.parse(st.updated) < leaseMs
    ) {
      rep.leased++;
      continue;
    }
    picked.push(it);
  }
  rep.picked = picked.length;

  // Batches of the picked items, read once; entries are accumulated and written at the end.
  const batches = new Map<string, BatchData | null>();
  for (const it of picked) {
    if (!batches.has(it.batch_id)) batches.set(it.batch_id, await store.get<BatchData>(`batch:${projectId}:${it.batch_id}`));
  }
  const entries = new Map<string, Record<string, BatchPage>>();
  const setEntry = (batchId: string, pageId: string, e: BatchPage) => {
    if (!entries.has(batchId)) entries.set(batchId, {});
    entries.get(batchId)![pageId] = e;
  };
  const flushBatches = async () => {
    for (const [batchId, pages] of entries) {
      const b = batches.get(batchId);
      if (!b) continue; // no batch record to advance (the desktop creates it); status and logs still tell
      // The batch's status and summary are derived from all its entries:
      // this run's over the ones already recorded, never this run's alone
      // (a batch read "completed" after its first partial run otherwise,
      // and the merge keeps the higher status).
      const all: Record<string, BatchPage> = { ...(b.pages ?? {}) };
      for (const [id, e] of Object.entries(pages)) all[id] = all[id] ? mergeBatchPage(all[id], e) : e;
      const merged = await store.put<BatchData>(`batch:${projectId}:${batchId}`, finishBatch({ ...b, pages: all }));
      batches.set(batchId, merged);
    }
    entries.clear();
  };
  const queuedUploaded = (it: QueueItem): string =>
    batches.get(it.batch_id)?.pages?.[it.page_id]?.uploaded || it.queued_at;
  // The batch entries are written once, when the run ends (a write per
  // page start would cost KV operations and break the 1 write/s per key);
  // meanwhile each page's status record says it is processing.

  const attempts = new Map<string, number>();
  let inFlight = 0;
  const work = async (it: QueueItem) => {
    inFlight++;
    rep.max_in_flight = Math.max(rep.max_in_flight, inFlight);
    rep.order.push(it.page_id);
    try {
      const outcome = await processPage(env, store, provider, projectId, it, {
        model,
        tone,
        domain,
        maxAttempts,
        now,
        batchUploaded: batches.get(it.batch_id)?.pages?.[it.page_id]?.uploaded,
        batchCreated: batches.get(it.batch_id)?.created,
      });
      rep.ai_calls += outcome.aiCalls;
      rep.cache_hits += outcome.cacheHits;
      if (outcome.entry) setEntry(it.batch_id, it.page_id, { ...outcome.entry, uploaded: queuedUploaded(it) });
      if (outcome.kind === "done") rep.done++;
      else if (outcome.kind === "failed") rep.failed++;
      else if (outcome.kind === "superseded") rep.superseded++;
      else if (outcome.kind === "skipped") {
        // already terminal: pruned from the queue below
      }
      else rep.retried++;
      if (outcome.kind === "retry") attempts.set(itemKey(it), it.attempts + 1);
      else terminal.add(itemKey(it));
    } catch (e) {
      // A storage error mid-page: leave the item queued for the next run.
      rep.errors.push(`${it.page_id}: ${(e as Error).message}`);
    } finally {
      inFlight--;
    }
  };
  // A fixed pool of `concurrency` runners pulling from the picked list in
  // order; a page starts only while it (and those in flight) fit in the KV
  // budget, with what the finished ones cost as the measure.
  let next = 0;
  let finished = 0;
  const opsAtStart = store.total();
  let stop = false;
  const runners = Array.from({ length: Math.min(concurrency, picked.length) }, async () => {
    while (next < picked.length && !stop) {
      if (!fits(inFlight + 1)) {
        stop = true;
        break;
      }
      await work(picked[next++]);
      finished++;
      perPage = Math.max(PAGE_OPS_BASE, Math.ceil(((store.total() - opsAtStart) / finished) * 1.25));
    }
  });
  await Promise.all(runners);
  rep.deferred += picked.length - next;
  await flushBatches();

  // Queue: raise attempts of retried items; prune terminal items (after
  // merging with whatever the desktop appended meanwhile).
  const written = await store.put<QueueData>(
    queueKey,
    {
      items: items.map((it) => ({ ...it, attempts: attempts.get(itemKey(it)) ?? it.attempts })),
      last_processed: now().toISOString(),
    },
    (merged) => {
      const keep = (merged.items ?? []).filter((it) => !terminal.has(itemKey(it)));
      rep.pruned = (merged.items ?? []).length - keep.length;
      return { ...merged, items: keep };
    },
  );
  rep.remaining = (written.items ?? []).length;
  return rep;
}

export interface PageContext {
  model: string;
  tone: string;
  domain: string;
  maxAttempts: number;
  now: () => Date;
  batchUploaded?: string;
  batchCreated?: string;
}

export interface Outcome {
  /** skipped: the page's status was already terminal for this batch (or belongs to a later one). */
  kind: "done" | "failed" | "retry" | "superseded" | "skipped";
  entry?: BatchPage;
  aiCalls: number;
  cacheHits: number;
  /** retry: how long the provider asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number;
  /** retry: the error that ended the attempt. */
  error?: string;
}

/**
 * Whether a block is copy worth rewriting: it has letters, and it is not a
 * short number-like table cell ("£149", "5 days") or a call button that is
 * mostly a phone number ("Call 0121 496 0000").
 */
export function isCopy(b: Block): boolean {
  const t = (b.content ?? "").trim();
  const letters = t.match(/\p{L}/gu)?.length ?? 0;
  if (letters === 0) return false;
  const words = t.split(/\s+/).length;
  const digits = t.match(/\d/g)?.length ?? 0;
  if ((b.type === "td" || b.type === "th") && words <= 3 && digits > 0) return false;
  if ((b.type === "button" || b.type === "a") && digits >= 7 && words <= 5) return false;
  return true;
}

/**
 * The page's blocks: the head's title and meta description first, as blocks
 * with reserved ids and types (the desktop's model.HeadBlocks: not stored in
 * the extraction, no selector), then the extraction's blocks.
 */
function blocksOf(page: PageData): Block[] {
  return [...headBlocks(page), ...(page.extraction?.above_fold_blocks ?? []), ...(page.extraction?.rest_of_page_blocks ?? [])];
}

export function headBlocks(page: PageData): Block[] {
  const head = page.extraction?.head ?? {};
  const out: Block[] = [];
  if (typeof head.title === "string" && head.title !== "") out.push({ id: BLOCK_ID_TITLE, type: BLOCK_TYPE_TITLE, content: head.title });
  if (typeof head.metaDescription === "string" && head.metaDescription !== "") {
    out.push({ id: BLOCK_ID_META_DESCRIPTION, type: BLOCK_TYPE_META_DESCRIPTION, content: head.metaDescription });
  }
  return out;
}

function elapsed(t0: number): number {
  return Math.max(0, Date.now() - t0);
}

export async function processPage(
  env: Env,
  store: Store,
  provider: Provider,
  projectId: string,
  it: QueueItem,
  ctx: PageContext,
): Promise<Outcome> {
  const { now } = ctx;
  const t0 = Date.now();
  const started = now().toISOString();
  const pageId = it.page_id;
  const statusKey = `status:${projectId}:${pageId}`;
  const pageKey = `page:${projectId}:${pageId}`;
  const logs: LogEntry[] = [];
  const log = (level: LogEntry["level"], step: string, message: string, extra: Partial<LogEntry> = {}) =>
    logs.push({ timestamp: now().toISOString(), level, step, message, ...extra });
  const writeLogs = () => store.put<LogData>(`logs:${projectId}:${pageId}`, { page_id: pageId, entries: logs });
  // AI requests made for this page, counted as they are made (a failed
  // request counts: the run report said ai_calls 0 for failed runs).
  const calls = { n: 0 };
  let cacheHits = 0;
  const attempt = it.attempts + 1;

  try {
    let page: PageData | null;
    try {
      page = await store.get<PageData>(pageKey);
    } catch (e) {
      if (e instanceof RecordError) throw new ProcessError("INVALID_CONTENT", e.message, false);
      throw e;
    }
    if (!page) throw new ProcessError("PAGE_MISSING", `${pageKey} not found (not pushed yet, or not visible yet)`);
    if (!page.extraction || typeof page.extraction !== "object") {
      throw new ProcessError("INVALID_CONTENT", `${pageKey}: no extraction`, false);
    }
    const reference = ctx.batchUploaded || it.queued_at;
    if ((page.batch_id && page.batch_id > it.batch_id) || cmpTime(page.uploaded, reference) > 0) {
      throw new ProcessError(
        "SUPERSEDED",
        `content changed since it was queued in ${it.batch_id} (page uploaded ${page.uploaded}, queued ${reference}` +
          (page.batch_id ? `, page batch ${page.batch_id})` : ")"),
        false,
      );
    }
    const st = await store.put<StatusData>(statusKey, {
      status: "processing",
      batch_id: it.batch_id,
      updated: now().toISOString(),
      processing: { started, current_step: "ai_optimization", progress: 30 },
    });
    // The merge keeps a terminal status (rank) and a later batch's: this
    // item was already finished (a duplicate delivery, or a run that did
    // not get to prune it), so no AI call and no further writes.
    if (st.batch_id > it.batch_id || (st.batch_id === it.batch_id && TERMINAL.has(st.status))) {
      return { kind: "skipped", aiCalls: 0, cacheHits: 0 };
    }
    log("info", "process", `attempt ${attempt} of ${ctx.maxAttempts}: optimizing with ${ctx.model} (${ctx.tone})`, {
      data: { attempt, model: ctx.model, tone: ctx.tone },
    });

    const blocks = blocksOf(page);
    // A block whose element holds child markup (links, <strong>, nested
    // blocks: the desktop's "markup" attribute) cannot take plain text on
    // write-back, and the desktop's QA refuses it: asking the AI is waste.
    // Blocks that are not copy (a price or number table cell, a button
    // that is a phone number) are not sent: nothing to improve, and a
    // model would be tempted to change the one thing that must not change.
    const inputs: BlockInput[] = blocks
      .filter((b) => typeof b.content === "string" && b.content.trim() !== "" && !b.attributes?.markup && isCopy(b))
      .map((b) => ({ id: b.id, type: b.type, content: b.content }));
    const head = page.extraction.head ?? {};
    const pageCtx = { title: head.title ?? "", description: head.metaDescription ?? "", dimensions: page.extraction.dimensions ?? {} };
    const tAI = Date.now();
    const res = inputs.length
      ? await optimizeBlocks(env, store, provider, { model: ctx.model, tone: ctx.tone, domain: ctx.domain, project: projectId, page: pageCtx, blocks: inputs }, now, calls)
      : { outputs: new Map(), rejected: [], cacheHits: 0, aiCalls: 0 };
    cacheHits = res.cacheHits;
    log("info", "ai_optimization", `${res.outputs.size} of ${inputs.length} blocks rewritten (${res.cacheHits} from cache)`, {
      duration_ms: elapsed(tAI),
      data: { ai_calls: res.aiCalls, cache_hits: res.cacheHits },
    });
    for (const r of res.rejected) log("warn", "validate", `block ${r.id}: suggestion rejected: ${r.reason}`);

    const optimized: Block[] = [];
    let confSum = 0;
    for (const b of blocks) {
      const out = res.outputs.get(b.id);
      if (!out) continue;
      confSum += out.confidence;
      if (out.text === b.content) continue;
      const ob: Block = { id: b.id, type: b.type, content: b.content, optimized_content: out.text };
      if (b.attributes && Object.keys(b.attributes).length) ob.attributes = b.attributes;
      optimized.push(ob);
    }
    // Every suggestion rejected (none usable): not a success, no confidence.
    const allRejected = res.outputs.size === 0 && res.rejected.length > 0;
    const confidence = res.outputs.size ? Math.round((confSum / res.outputs.size) * 100) / 100 : allRejected ? 0 : 1;
    const completed = now().toISOString();
    const tSave = Date.now();
    await store.put<PageData>(pageKey, {
      ...page,
      optimization: {
        completed,
        model: ctx.model,
        confidence,
        changes: optimized.length,
        optimized_blocks: optimized,
        source_hash: page.content_hash ?? "",
      },
    });
    await store.put<StatusData>(statusKey, {
      status: "done",
      batch_id: it.batch_id,
      updated: completed,
      result: { completed, success: !allRejected, changes: optimized.length, confidence },
    });
    log("info", "save", "optimization saved", { duration_ms: elapsed(tSave) });
    log("info", "done", `done: ${optimized.length} changes, confidence ${confidence}`, { duration_ms: elapsed(t0) });
    await writeLogs();
    return { kind: "done", entry: { status: "done", uploaded: "", started, completed }, aiCalls: calls.n, cacheHits };
  } catch (e) {
    if (!(e instanceof ProcessError)) throw e;
    const ts = now().toISOString();
    const final = !e.retryable || attempt >= ctx.maxAttempts;
    if (final) {
      await store.put<StatusData>(statusKey, {
        status: "failed",
        batch_id: it.batch_id,
        updated: ts,
        error: { message: e.message, code: e.code, timestamp: ts },
      });
      log(
        e.code === "SUPERSEDED" ? "warn" : "error",
        "process",
        e.code === "SUPERSEDED" ? `skipped as superseded: ${e.message}` : `failed after ${attempt} attempt(s): ${e.code}: ${e.message}`,
        { duration_ms: elapsed(t0), data: { code: e.code, attempt } },
      );
      await writeLogs();
      return {
        kind: e.code === "SUPERSEDED" ? "superseded" : "failed",
        entry: { status: "failed", uploaded: "", started, completed: ts, error: `${e.code}: ${e.message}` },
        aiCalls: calls.n,
        cacheHits,
      };
    }
    await store.put<StatusData>(statusKey, {
      status: "processing",
      batch_id: it.batch_id,
      updated: ts,
      processing: { started, current_step: "retry_wait", progress: 0 },
    });
    log("warn", "process", `attempt ${attempt} of ${ctx.maxAttempts} failed: ${e.code}: ${e.message}`, {
      duration_ms: elapsed(t0),
      data: { code: e.code, attempt },
    });
    await writeLogs();
    return {
      kind: "retry",
      entry: { status: "processing", uploaded: "", started },
      aiCalls: calls.n,
      cacheHits,
      retryAfterMs: e.retryAfterMs,
      error: `${e.code}: ${e.message}`,
    };
  }
}
