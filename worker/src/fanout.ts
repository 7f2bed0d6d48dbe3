// Fan-out on Cloudflare Queues (README: "Fan-out on Cloudflare Queues").
//
// dispatch(): the cron, every minute. Reads queue:{project_id} of every
// project, takes dispatch tokens from the account's AI budget, asks each
// project's ProjectCoordinator to lease that many items (an item under an
// unexpired lease is never handed out twice), and sends one message per
// leased item to PAGE_QUEUE.
//
// consume(): the queue consumer. Processes a batch of messages with at most
// QUEUE_CONCURRENCY pages in flight, each through processPage (status,
// page, logs and cache: per-page keys only), every AI request paced by the
// account's budget. Outcomes go to the ProjectCoordinator, which folds them
// into batch: and queue: (the one writer). A retryable failure is
// message.retry({delaySeconds}): the provider's Retry-After when it gave
// one, else exponential backoff with jitter; the item's `attempts` counts
// processing attempts (MAX_ATTEMPTS), while deliveries held back by the KV
// or AI budget are not attempts. Messages Queues gives up on go to the
// dead-letter queue, whose consumer fails the page (deadLetter()).

import { accountStub, itemKey, projectStub, type FinishReport, type LeasedItem } from "./coordinator";
import { intVar, type Env, type PageMessage } from "./env";
import { sortQueue } from "./merge";
import { processPage, type Outcome } from "./processor";
import { providerFor } from "./provider/index";
import type { OptimizeRequest, Provider } from "./provider/types";
import { Store } from "./store";
import type { BatchData, LogData, ProjectData, QueueData, QueueItem, StatusData } from "./types";

export function fanoutEnabled(env: Env): boolean {
  return (env.FANOUT ?? "queues").toLowerCase() !== "cron" && !!env.PAGE_QUEUE;
}

export interface DispatchProjectReport {
  project_id: string;
  queued: number;
  /** Items under another run's (or an earlier message's) unexpired lease. */
  busy: number;
  terminal: number;
  sent: number;
}

export interface DispatchReport {
  mode: "queues";
  projects: DispatchProjectReport[];
  /** Dispatch tokens granted by the account's AI budget. */
  granted: number;
  sent: number;
  /** KV operations of this invocation, and queue sends (sendBatch calls). */
  kv: { reads: number; writes: number; skipped: number };
  queue_sends: number;
}

const SEND_CHUNK = 100; // Queues: at most 100 messages per sendBatch

export async function dispatch(env: Env, opts: { project?: string; now?: () => Date } = {}): Promise<DispatchReport> {
  const now = opts.now ?? (() => new Date());
  const store = new Store(env);
  const queue = env.PAGE_QUEUE;
  if (!queue) throw new Error("FANOUT=queues needs the PAGE_QUEUE producer binding");
  const perMinute = intVar(env.AI_REQUESTS_PER_MINUTE, 600, 1);
  const maxRun = intVar(env.DISPATCH_MAX_PER_RUN, 5000, 1);
  const leaseMs = intVar(env.LEASE_MS, 120000, 1000);
  let ids = opts.project ? [opts.project] : (await store.list(env.NIMBUS_QUEUE, "queue:")).map((k) => k.slice("queue:".length));
  // The starting project rotates every minute, so leftovers go round.
  if (ids.length > 1) {
    const shift = Math.floor(now().getTime() / 60000) % ids.length;
    ids = [...ids.slice(shift), ...ids.slice(0, shift)];
  }
  const queues: { pid: string; items: QueueItem[] }[] = [];
  for (const pid of ids) {
    // A send costs an operation of the invocation too: stop reading queues
    // while the sends they could need would not fit.
    if (store.total() + 10 > store.opsLimit) break;
    const q = await store.get<QueueData>(`queue:${pid}`);
    if (q?.items?.length) queues.push({ pid, items: sortQueue([...q.items]) });
  }
  const wanted = Math.min(maxRun, queues.reduce((n, q) => n + q.items.length, 0));
  const account = accountStub(env);
  const granted = wanted ? await account.take(wanted, perMinute, now().getTime()) : 0;
  const reports = new Map<string, DispatchProjectReport>();
  for (const q of queues) reports.set(q.pid, { project_id: q.pid, queued: q.items.length, busy: 0, terminal: 0, sent: 0 });
  let left = granted;
  let sends = 0;
  // Shares are handed out smallest queue first, an equal share of what is
  // left each, so what a small project does not use passes on to the bigger
  // ones. A project's queue can still hold fewer leasable items than its
  // length (terminal or busy ones): a project that took its whole share is
  // offered what is left in another round, so no token is refunded while a
  // leasable item waits.
  let round = queues.map((q, i) => ({ q, i })).sort((a, b) => a.q.items.length - b.q.items.length || a.i - b.i).map((x) => x.q);
  for (let pass = 0; left > 0 && round.length > 0 && pass < 4; pass++) {
    const again: typeof round = [];
    for (const [i, q] of round.entries()) {
      const share = Math.ceil(left / (round.length - i));
      if (share <= 0) break;
      const r = await projectStub(env, q.pid).lease(q.pid, q.items, share, leaseMs, now().getTime());
      const msgs = r.leased.map((it: LeasedItem) => ({
        body: { project_id: q.pid, item: { page_id: it.page_id, batch_id: it.batch_id, priority: it.priority, queued_at: it.queued_at, attempts: it.attempts }, token: it.token } satisfies PageMessage,
        contentType: "json" as const,
      }));
      for (let j = 0; j < msgs.length; j += SEND_CHUNK) {
        await queue.sendBatch(msgs.slice(j, j + SEND_CHUNK));
        sends++;
      }
      left -= msgs.length;
      const rep = reports.get(q.pid)!;
      rep.sent += msgs.length;
      // Later passes see this run's own leases as busy: count the first pass only.
      if (pass === 0) {
        rep.busy = r.busy;
        rep.terminal = r.terminal;
      }
      if (msgs.length >= share) again.push(q);
    }
    round = again;
  }
  if (left > 0) await account.refund(left, perMinute);
  const sent = granted - left;
  await account.record("dispatch", store.total() + sends, sent);
  return { mode: "queues", projects: queues.map((q) => reports.get(q.pid)!), granted, sent, kv: { ...store.ops }, queue_sends: sends };
}

/** Thrown by BudgetedProvider when the AI budget has no slot soon enough: the message waits, no attempt is spent. */
export class BudgetDeferred extends Error {
  constructor(readonly waitMs: number) {
    super(`AI request budget: next slot in ${Math.ceil(waitMs / 1000)} s`);
  }
}

/** Every AI request takes a slot of the account's budget first (AccountCoordinator.acquire). */
export class BudgetedProvider implements Provider {
  readonly name: string;
  constructor(
    private readonly inner: Provider,
    private readonly env: Env,
    private readonly maxWaitMs = 30000,
  ) {
    this.name = inner.name;
  }
  async optimize(req: OptimizeRequest): Promise<unknown> {
    const perMinute = intVar(this.env.AI_REQUESTS_PER_MINUTE, 600, 1);
    const r = await accountStub(this.env).acquire(perMinute, Date.now(), this.maxWaitMs);
    if (!r.ok) throw new BudgetDeferred(r.waitMs);
    if (r.waitMs > 0) await new Promise((res) => setTimeout(res, r.waitMs));
    return this.inner.optimize(req);
  }
}

/** Backoff of attempt n (1-based): base * 2^(n-1) seconds, jittered to 50-100 %, at most 15 min. */
export function backoffSeconds(attempt: number, baseS: number, rand: () => number = Math.random): number {
  const full = Math.min(900, baseS * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.ceil(full / 2 + rand() * (full / 2)));
}

/** Delivery delay of a retried message: Retry-After when the provider gave one, else backoff. */
export function retryDelaySeconds(o: { retryAfterMs?: number }, attempt: number, baseS: number, rand?: () => number): number {
  if (o.retryAfterMs !== undefined && o.retryAfterMs > 0) return Math.min(43200, Math.ceil(o.retryAfterMs / 1000));
  return backoffSeconds(attempt, baseS, rand);
}

export interface ConsumeReport {
  messages: number;
  done: number;
  failed: number;
  retried: number;
  skipped: number;
  deferred: number;
  stale: number;
  ai_calls: number;
  kv_ops: number;
  max_in_flight: number;
  /** Wall time of the invocation. */
  ms: number;
  /** delaySeconds of every message.retry, by message id (tests read them). */
  retries: Record<string, number>;
  errors: string[];
}

// A page costs about 11 KV operations in the consumer (status twice, page,
// logs, cache) plus one project read per project of the batch.
const PAGE_OPS = 16;
const RESERVE = 20;

export async function consume(
  batch: MessageBatch<PageMessage>,
  env: Env,
  opts: { provider?: Provider; now?: () => Date; rand?: () => number } = {},
): Promise<ConsumeReport> {
  const now = opts.now ?? (() => new Date());
  const store = new Store(env);
  const t0 = Date.now();
  const rep: ConsumeReport = { messages: batch.messages.length, done: 0, failed: 0, retried: 0, skipped: 0, deferred: 0, stale: 0, ai_calls: 0, kv_ops: 0, max_in_flight: 0, ms: 0, retries: {}, errors: [] };
  const concurrency = intVar(env.QUEUE_CONCURRENCY, 25, 1);
  const maxAttempts = intVar(env.MAX_ATTEMPTS, 3, 1);
  const leaseMs = intVar(env.LEASE_MS, 120000, 1000);
  const baseS = intVar(env.QUEUE_RETRY_BASE_S, 10, 1);
  // Retries go through the queue (message.retry), never waited out inside a request.
  const provider = new BudgetedProvider(opts.provider ?? providerFor(env, { retries: 0, maxRetryAfterMs: 0 }), env);
  // Read once per invocation: the project's settings, and each batch (its
  // entries' `uploaded`, against which a superseded page is detected).
  const projects = new Map<string, Promise<ProjectData | null>>();
  const projectOf = (pid: string) => {
    if (!projects.has(pid)) projects.set(pid, store.get<ProjectData>(`project:${pid}`));
    return projects.get(pid)!;
  };
  const batches = new Map<string, Promise<BatchData | null>>();
  const batchOf = (pid: string, b: string) => {
    const k = `batch:${pid}:${b}`;
    if (!batches.has(k)) batches.set(k, store.get<BatchData>(k));
    return batches.get(k)!;
  };
  const retry = (m: Message<PageMessage>, s: number) => {
    rep.retries[m.id] = s;
    m.retry({ delaySeconds: s });
  };
  let inFlight = 0;
  const one = async (m: Message<PageMessage>) => {
    const { project_id: pid, item, token } = m.body;
    const coord = projectStub(env, pid);
    const key = itemKey(item);
    const started = await coord.start(key, token, now().getTime(), leaseMs);
    if (started.state === "stale") {
      rep.stale++;
      m.ack();
      return;
    }
    if (started.state === "running") {
      retry(m, Math.max(1, Math.ceil(started.waitMs / 1000)));
      return;
    }
    const it = { ...item, attempts: Math.max(item.attempts, started.attempts) };
    const finish = (r: FinishReport) => coord.finish(key, token, r, now().getTime(), leaseMs);
    let outcome: Outcome;
    try {
      const project = await projectOf(pid);
      const b = await batchOf(pid, item.batch_id);
      const s = project?.settings;
      outcome = await processPage(env, store, provider, pid, it, {
        model: s?.ai_model || env.AI_DEFAULT_MODEL || "gpt-4o-mini",
        tone: s?.tone || "professional",
        domain: s?.domain || project?.name || "",
        maxAttempts,
        now,
        batchUploaded: b?.pages?.[item.page_id]?.uploaded,
        batchCreated: b?.created,
      });
    } catch (e) {
      if (e instanceof BudgetDeferred) {
        const d = Math.max(1, Math.ceil(e.waitMs / 1000));
        rep.deferred++;
        await finish({ kind: "deferred", delayMs: d * 1000 });
        retry(m, d);
        return;
      }
      // Storage trouble (or the invocation's KV budget): the message comes
      // back later; Queues' max_retries bounds it (then the dead-letter queue).
      rep.errors.push(`${item.page_id}: ${(e as Error).message}`);
      const d = backoffSeconds(m.attempts, baseS, opts.rand);
      await finish({ kind: "deferred", delayMs: d * 1000 });
      retry(m, d);
      return;
    }
    rep.ai_calls += outcome.aiCalls;
    if (outcome.kind === "retry") {
      const d = retryDelaySeconds(outcome, it.attempts + 1, baseS, opts.rand);
      await finish({ kind: "retry", entry: { ...outcome.entry!, uploaded: item.queued_at }, attempts: it.attempts + 1, delayMs: d * 1000 });
      rep.retried++;
      retry(m, d);
      return;
    }
    // The status record the page ended with here, for the coordinator to
    // check back once KV's staleness window has passed (verify).
    const final = store.lastPut<StatusData>(`status:${pid}:${item.page_id}`);
    await finish({
      kind: outcome.kind,
      entry: outcome.entry ? { ...outcome.entry, uploaded: item.queued_at } : undefined,
      attempts: outcome.kind === "failed" ? it.attempts + 1 : undefined,
      status: final && final.batch_id === item.batch_id && (final.status === "done" || final.status === "failed") ? final : undefined,
    });
    if (outcome.kind === "done") rep.done++;
    else if (outcome.kind === "skipped") rep.skipped++;
    else rep.failed++;
    m.ack();
  };
  let next = 0;
  const msgs = batch.messages;
  const runners = Array.from({ length: Math.min(concurrency, msgs.length) }, async () => {
    while (next < msgs.length) {
      const m = msgs[next++];
      // A page starts only while it and those in flight fit in the
      // invocation's KV operations; the rest come back in a second.
      if (store.total() + (inFlight + 1) * PAGE_OPS + RESERVE > store.opsLimit) {
        rep.deferred++;
        retry(m, 1);
        continue;
      }
      inFlight++;
      rep.max_in_flight = Math.max(rep.max_in_flight, inFlight);
      try {
        await one(m);
      } catch (e) {
        rep.errors.push(`${m.body?.item?.page_id}: ${(e as Error).message}`);
        retry(m, backoffSeconds(m.attempts, baseS, opts.rand));
      } finally {
        inFlight--;
      }
    }
  });
  await Promise.all(runners);
  rep.kv_ops = store.total();
  rep.ms = Date.now() - t0;
  await accountStub(env).record("consumer", rep.kv_ops, rep.done + rep.failed);
  console.log(JSON.stringify({ msg: "consumed", ...rep, retries: undefined }));
  return rep;
}

/**
 * The dead-letter queue's consumer: a message Queues gave up on (every
 * delivery failed) fails its page, so the batch can complete and
 * `nimbus submit --failed` can resubmit it.
 */
export async function deadLetter(batch: MessageBatch<PageMessage>, env: Env, now: () => Date = () => new Date()): Promise<number> {
  const store = new Store(env);
  let n = 0;
  for (const m of batch.messages) {
    const { project_id: pid, item, token } = m.body;
    const ts = now().toISOString();
    const message = `gave up after ${m.attempts} deliveries of its queue message (dead-letter queue)`;
    const st = await store.put<StatusData>(`status:${pid}:${item.page_id}`, {
      status: "failed",
      batch_id: item.batch_id,
      updated: ts,
      error: { message, code: "AI_ERROR", timestamp: ts },
    });
    // The merge keeps a done status, and a later batch's.
    const failedHere = st.batch_id === item.batch_id && st.status === "failed";
    if (failedHere) {
      await store.put<LogData>(`logs:${pid}:${item.page_id}`, { page_id: item.page_id, entries: [{ timestamp: ts, level: "error", step: "process", message }] });
    }
    await projectStub(env, pid).finish(
      itemKey(item),
      token,
      {
        kind: failedHere ? "failed" : "skipped",
        entry: failedHere ? { status: "failed", uploaded: item.queued_at, completed: ts, error: `AI_ERROR: ${message}` } : undefined,
        status: failedHere ? st : undefined,
      },
      now().getTime(),
      intVar(env.LEASE_MS, 120000, 1000),
    );
    m.ack();
    n++;
  }
  await accountStub(env).record("dead_letter", store.total(), n);
  return n;
}
