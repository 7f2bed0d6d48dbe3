// The two Durable Objects of the fan-out (README: "Fan-out on Cloudflare
// Queues").
//
// ProjectCoordinator, one per project (idFromName(project_id)), is the one
// writer of `batch:{project_id}:*` and `queue:{project_id}`. Its storage is
// strongly consistent and its calls are serialised, which KV (no
// compare-and-swap, ~60 s eventual consistency) cannot give:
//   - lease(): the cron asks it which queue items to send; an item leased
//     and not yet expired is never handed out again, so two overlapping cron
//     runs never send the same page;
//   - start(): a consumer asks before it processes a message; a stale token
//     (the item was leased again after its lease ran out) or a terminal item
//     is acknowledged without work, so a duplicate delivery (Queues deliver
//     at least once) costs no AI request;
//   - finish(): a consumer reports the page's outcome (its batch entry, its
//     attempts, the final status record it wrote); the object folds the
//     outcomes into the batch and queue records in KV from its alarm, at most
//     once a second (KV's per-key write limit), each fold one
//     read-merge-write per batch touched and one for the queue, with the
//     batch summary derived from all entries; an outcome whose batch record
//     is not visible yet is kept for a later fold;
//   - verify(): once KV's staleness window has passed (STATUS_VERIFY_S), the
//     alarm reads each finished page's status record back and writes the
//     final one again (merged) when a desktop's write made from a stale read
//     put an older one over it. KV has no compare-and-swap; the desktop keeps
//     its intent until KV reflects it, and this is the Worker's side of that
//     rule: without it a page done in KV's batch record could read "queued"
//     in its status record for good.
//
// AccountCoordinator, one per account (idFromName("account")), holds the
// account-wide AI request budget (AI_REQUESTS_PER_MINUTE): a dispatch
// bucket the cron takes from (at most a minute's budget of pages sent ahead)
// and a pacer every AI request goes through (GCRA: one request per
// 60,000 / budget ms, a burst of one second's worth), so fan-out never turns
// into a 429 storm at the provider. It also keeps the per-invocation KV
// operation counts of consumers and folds (the run report's figures).
// Its state is in memory: if the object is evicted the pacer forgets its
// schedule, which costs at most one burst.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";
import { canonicalKind } from "./canonical";
import { intVar } from "./env";
import { finishBatch, mergeBatchPage, mergeKind } from "./merge";
import { Store } from "./store";
import type { BatchData, BatchPage, QueueData, QueueItem, StatusData } from "./types";

export interface LeasedItem extends QueueItem {
  /** Lease token: the message carries it, start() checks it. */
  token: string;
}

export type FinishKind = "done" | "failed" | "superseded" | "skipped" | "retry" | "deferred";

export interface FinishReport {
  kind: FinishKind;
  /** The page's batch entry (done, failed, superseded, retry). */
  entry?: BatchPage;
  /** When the message will be delivered again (retry, deferred). */
  delayMs?: number;
  /** The item's attempts after this one (retry, failed). */
  attempts?: number;
  /** The terminal status record the consumer wrote for this batch (done, failed, superseded, skipped). */
  status?: StatusData;
}

interface ItemState {
  token?: string;
  lease_until?: number;
  running_until?: number;
  attempts: number;
  terminal?: boolean;
  entry?: BatchPage;
  /** The terminal status record written for this item, checked back by verify(). */
  final?: StatusData;
  batch_id: string;
  page_id: string;
}

export interface Counters {
  leased: number;
  done: number;
  failed: number;
  superseded: number;
  skipped: number;
  retried: number;
  deferred: number;
  duplicates: number;
  folds: number;
  fold_max_kv_ops: number;
  /** Status records found older than the final one written and written again (verify). */
  reasserted: number;
}

const ZERO: Counters = {
  leased: 0,
  done: 0,
  failed: 0,
  superseded: 0,
  skipped: 0,
  retried: 0,
  deferred: 0,
  duplicates: 0,
  folds: 0,
  fold_max_kv_ops: 0,
  reasserted: 0,
};

const TERMINAL_KINDS = new Set<FinishKind>(["done", "failed", "superseded", "skipped"]);

export function itemKey(it: { batch_id: string; page_id: string }): string {
  return it.batch_id + "/" + it.page_id;
}

const CHUNK = 128; // keys per storage.get/put call

/** Verifications of one alarm at most: 3 KV operations each (read; read and write when behind), with the fold's under 1,000. */
const VERIFY_PER_ALARM = 150;
/** A status found behind is written again and checked again, at most this often. */
const VERIFY_TRIES = 3;
/** A fold keeps an outcome whose batch record it cannot read for this many folds (about a second apart) before it gives up on it. */
const FOLD_TRIES = 300;

/** Verify markers sort by due time: "v:" + 15-digit ms + ":" + item key. */
function verifyKey(due: number, key: string): string {
  return "v:" + String(Math.max(0, Math.floor(due))).padStart(15, "0") + ":" + key;
}

export class ProjectCoordinator extends DurableObject<Env> {
  private counters: Counters = { ...ZERO };
  private lastFold = 0;
  private folding: Promise<void> | null = null;

  private async states(keys: string[]): Promise<Map<string, ItemState>> {
    const out = new Map<string, ItemState>();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const got = await this.ctx.storage.get<ItemState>(keys.slice(i, i + CHUNK).map((k) => "i:" + k));
      for (const [k, v] of got) out.set(k.slice(2), v);
    }
    return out;
  }

  private async save(entries: Map<string, ItemState>, dirty: string[] = []): Promise<void> {
    const all: [string, unknown][] = [...[...entries].map(([k, v]) => ["i:" + k, v] as [string, unknown]), ...dirty.map((k) => ["d:" + k, 1] as [string, unknown])];
    for (let i = 0; i < all.length; i += CHUNK) await this.ctx.storage.put(Object.fromEntries(all.slice(i, i + CHUNK)));
  }

  /**
   * Leases up to `max` of `items` (already in queue order) that are neither
   * terminal nor under an unexpired lease. Items known to be terminal are
   * marked for the next fold to prune from the queue record.
   */
  async lease(
    projectId: string,
    items: QueueItem[],
    max: number,
    leaseMs: number,
    now: number,
  ): Promise<{ leased: LeasedItem[]; busy: number; terminal: number }> {
    await this.ctx.storage.put("project", projectId);
    const leased: LeasedItem[] = [];
    const changed = new Map<string, ItemState>();
    let busy = 0;
    let terminal = 0;
    const prune: string[] = [];
    // Item states are read a chunk at a time, and the walk stops once `max`
    // are leased: a queue of 100,000 items costs what the run can send.
    let st = new Map<string, ItemState>();
    for (const [i, it] of items.entries()) {
      if (leased.length >= max) break;
      if (i % CHUNK === 0) st = await this.states(items.slice(i, i + CHUNK).map(itemKey));
      const k = itemKey(it);
      const s = st.get(k);
      if (s?.terminal) {
        terminal++;
        prune.push(k);
        continue;
      }
      if (s && (s.lease_until ?? 0) > now) {
        busy++;
        continue;
      }
      const token = crypto.randomUUID();
      const attempts = Math.max(it.attempts ?? 0, s?.attempts ?? 0);
      changed.set(k, { ...(s ?? {}), batch_id: it.batch_id, page_id: it.page_id, token, lease_until: now + leaseMs, attempts });
      leased.push({ ...it, attempts, token });
    }
    await this.save(changed, prune);
    this.counters.leased += leased.length;
    if (prune.length) await this.schedule();
    return { leased, busy, terminal };
  }

  /**
   * A consumer is about to process a message. "ok" with the item's attempts;
   * "stale" (token superseded, or the item is terminal): acknowledge it
   * without work; "running": another delivery of it is in progress, retry
   * the message after `waitMs`.
   */
  async start(key: string, token: string, now: number, leaseMs: number): Promise<{ state: "ok" | "stale" | "running"; attempts: number; waitMs: number }> {
    const s = (await this.states([key])).get(key);
    if (!s || s.terminal || s.token !== token) {
      this.counters.duplicates++;
      return { state: "stale", attempts: s?.attempts ?? 0, waitMs: 0 };
    }
    if ((s.running_until ?? 0) > now) {
      this.counters.duplicates++;
      return { state: "running", attempts: s.attempts, waitMs: s.running_until! - now };
    }
    const next = { ...s, running_until: now + leaseMs, lease_until: Math.max(s.lease_until ?? 0, now + leaseMs) };
    await this.save(new Map([[key, next]]));
    return { state: "ok", attempts: s.attempts, waitMs: 0 };
  }

  /** A consumer reports a message's outcome; the alarm folds it into KV. */
  async finish(key: string, token: string, r: FinishReport, now: number, leaseMs: number): Promise<boolean> {
    const s = (await this.states([key])).get(key);
    if (!s || s.token !== token || s.terminal) return false;
    const next: ItemState = { ...s, running_until: 0 };
    if (r.entry) next.entry = next.entry ? mergeBatchPage(next.entry, r.entry) : r.entry;
    if (r.attempts !== undefined) next.attempts = Math.max(next.attempts, r.attempts);
    let verify: string | null = null;
    if (TERMINAL_KINDS.has(r.kind)) {
      next.terminal = true;
      next.lease_until = 0;
      if (r.status && r.status.batch_id === s.batch_id) {
        next.final = r.status;
        verify = verifyKey(now + intVar(this.env.STATUS_VERIFY_S, 120) * 1000, key);
      }
    } else {
      // The message comes back after delayMs: nobody else takes the item meanwhile.
      next.lease_until = now + (r.delayMs ?? 0) + leaseMs;
    }
    const c = this.counters;
    if (r.kind === "done") c.done++;
    else if (r.kind === "failed") c.failed++;
    else if (r.kind === "superseded") c.superseded++;
    else if (r.kind === "skipped") c.skipped++;
    else if (r.kind === "retry") c.retried++;
    else c.deferred++;
    await this.save(new Map([[key, next]]), r.kind === "deferred" ? [] : [key]);
    if (verify) await this.ctx.storage.put(verify, 0);
    await this.schedule();
    return true;
  }

  /** Sets the alarm for `at` unless one is already set for then or sooner (a verification alarm minutes away must not hold back a fold). */
  private async alarmBy(at: number): Promise<void> {
    const cur = await this.ctx.storage.getAlarm();
    if (cur !== null && cur <= at) return;
    await this.ctx.storage.setAlarm(at);
  }

  private async schedule(): Promise<void> {
    await this.alarmBy(Math.max(Date.now(), this.lastFold + 1000));
  }

  /** The next alarm: a second after the last fold while outcomes wait, and when the first verification is due. */
  private async reschedule(): Promise<void> {
    const more = await this.ctx.storage.list({ prefix: "d:", limit: 1 });
    if (more.size > 0) {
      await this.alarmBy(this.lastFold + 1000);
      return;
    }
    const next = await this.ctx.storage.list({ prefix: "v:", limit: 1 });
    for (const k of next.keys()) await this.alarmBy(Math.max(Date.now(), Number(k.slice(2, 17))));
  }

  /** What tests and POST /__process read: counters, items leased and not finished, outcomes not yet folded. */
  async progress(now: number): Promise<{ counters: Counters; outstanding: number; unfolded: number }> {
    const all = await this.ctx.storage.list<ItemState>({ prefix: "i:" });
    let outstanding = 0;
    for (const s of all.values()) if (!s.terminal && (s.lease_until ?? 0) > now) outstanding++;
    const dirty = await this.ctx.storage.list({ prefix: "d:", limit: 1 });
    return { counters: { ...this.counters }, outstanding, unfolded: dirty.size + (this.folding ? 1 : 0) };
  }

  async alarm(): Promise<void> {
    let used = 0;
    try {
      used = (await this.fold()).kv_ops;
    } finally {
      // A failed fold keeps its markers (foldOnce); the verifications due still run.
      await this.verify(Date.now(), used);
      await this.reschedule();
    }
  }

  /**
   * Reads back the status records of the items whose verification is due
   * (at `now`) and writes the final one again where KV holds an older one
   * (a desktop's write from a stale read); `used` KV operations of this
   * invocation are already spent (the fold's). A record written again is
   * checked again later, VERIFY_TRIES times at most.
   */
  async verify(now: number = Date.now(), used = 0): Promise<{ checked: number; reasserted: number; kv_ops: number }> {
    const due = await this.ctx.storage.list<number>({ prefix: "v:", end: verifyKey(now + 1, ""), limit: VERIFY_PER_ALARM });
    const projectId = await this.ctx.storage.get<string>("project");
    if (due.size === 0 || !projectId) return { checked: 0, reasserted: 0, kv_ops: 0 };
    const store = new Store(this.env);
    const items = new Map<string, { marker: string; tries: number }>();
    for (const [k, tries] of due) items.set(k.slice(18), { marker: k, tries: tries ?? 0 });
    const st = await this.states([...items.keys()]);
    const again: [string, number][] = [];
    const doneMarkers: string[] = [];
    let checked = 0;
    let reasserted = 0;
    const delayMs = intVar(this.env.STATUS_VERIFY_S, 120) * 1000;
    for (const [key, { marker, tries }] of items) {
      if (used + store.total() + 3 > 900) break; // the rest wait for the next alarm
      doneMarkers.push(marker);
      const s = st.get(key);
      const final = s?.final;
      if (!s || !final) continue;
      const skey = `status:${projectId}:${s.page_id}`;
      checked++;
      const cur = await store.get<StatusData>(skey);
      const behind = cur === null || canonicalKind("status", mergeKind<StatusData>("status", cur, final)) !== canonicalKind("status", cur);
      if (!behind) continue;
      await store.put<StatusData>(skey, final);
      reasserted++;
      if (tries + 1 < VERIFY_TRIES) again.push([verifyKey(now + delayMs, key), tries + 1]);
    }
    for (let i = 0; i < doneMarkers.length; i += CHUNK) await this.ctx.storage.delete(doneMarkers.slice(i, i + CHUNK));
    if (again.length) await this.ctx.storage.put(Object.fromEntries(again));
    this.counters.reasserted += reasserted;
    if (checked > 0) await accountStub(this.env).record("verify", used + store.total(), reasserted);
    if (reasserted > 0) console.log(JSON.stringify({ msg: "status written again", project: projectId, reasserted, checked }));
    return { checked, reasserted, kv_ops: store.total() };
  }

  /** Folds the outcomes reported since the last fold into batch: and queue: (one writer). */
  async fold(): Promise<{ kv_ops: number; batches: number; pruned: number; remaining: number }> {
    while (this.folding) await this.folding;
    let done!: () => void;
    this.folding = new Promise((r) => (done = r));
    try {
      return await this.foldOnce();
    } finally {
      this.folding = null;
      done();
    }
  }

  private async foldOnce(): Promise<{ kv_ops: number; batches: number; pruned: number; remaining: number }> {
    const projectId = await this.ctx.storage.get<string>("project");
    const dirtyMap = await this.ctx.storage.list<number>({ prefix: "d:" });
    const dirty = [...dirtyMap.keys()].map((k) => k.slice(2));
    if (!projectId || dirty.length === 0) return { kv_ops: 0, batches: 0, pruned: 0, remaining: -1 };
    // Taken now: what finishes during the fold is folded by the next one.
    for (let i = 0; i < dirty.length; i += CHUNK) await this.ctx.storage.delete(dirty.slice(i, i + CHUNK).map((k) => "d:" + k));
    const store = new Store(this.env);
    const now = new Date().toISOString();
    try {
      const st = await this.states(dirty);
      const byBatch = new Map<string, Record<string, BatchPage>>();
      const keysOf = new Map<string, string[]>();
      for (const [k, s] of st) {
        if (!s.entry) continue;
        if (!byBatch.has(s.batch_id)) byBatch.set(s.batch_id, {});
        byBatch.get(s.batch_id)![s.page_id] = s.entry;
        keysOf.set(s.batch_id, [...(keysOf.get(s.batch_id) ?? []), k]);
      }
      const unseen: Record<string, number> = {};
      for (const [batchId, entries] of byBatch) {
        const key = `batch:${projectId}:${batchId}`;
        const b = await store.get<BatchData>(key);
        if (!b) {
          // The desktop creates batches, and KV may not show a new one here
          // yet: keep its outcomes for a later fold (dropping them left the
          // batch's entries queued for good).
          for (const k of keysOf.get(batchId) ?? []) {
            const tries = (dirtyMap.get("d:" + k) ?? 1) + 1;
            if (tries <= FOLD_TRIES) unseen["d:" + k] = tries;
            else console.error(JSON.stringify({ msg: "fold gave up: batch record not found", key, item: k }));
          }
          continue;
        }
        const all: Record<string, BatchPage> = { ...(b.pages ?? {}) };
        for (const [id, e0] of Object.entries(entries)) {
          const e = { ...e0, uploaded: all[id]?.uploaded || e0.uploaded };
          all[id] = all[id] ? mergeBatchPage(all[id], e) : e;
        }
        // Derived from all entries: completed only when every one is terminal.
        await store.put<BatchData>(key, finishBatch({ ...b, pages: all }));
      }
      const qkey = `queue:${projectId}`;
      const q = await store.get<QueueData>(qkey);
      let pruned = 0;
      let remaining = 0;
      if (q) {
        const qs = await this.states((q.items ?? []).map(itemKey));
        const written = await store.put<QueueData>(
          qkey,
          {
            items: (q.items ?? []).map((it) => ({ ...it, attempts: Math.max(it.attempts ?? 0, qs.get(itemKey(it))?.attempts ?? 0) })),
            last_processed: now,
          },
          async (merged) => {
            // Items the desktop appended meanwhile are looked up too.
            const extra = (merged.items ?? []).map(itemKey).filter((k) => !qs.has(k));
            for (const [k, v] of await this.states(extra)) qs.set(k, v);
            const keep = (merged.items ?? []).filter((it) => !qs.get(itemKey(it))?.terminal);
            pruned = (merged.items ?? []).length - keep.length;
            return { ...merged, items: keep };
          },
        );
        remaining = (written.items ?? []).length;
      }
      for (const ks = Object.keys(unseen); ks.length; ) await this.ctx.storage.put(Object.fromEntries(ks.splice(0, CHUNK).map((k) => [k, unseen[k]])));
      this.counters.folds++;
      this.counters.fold_max_kv_ops = Math.max(this.counters.fold_max_kv_ops, store.total());
      await accountStub(this.env).record("fold", store.total(), 0);
      return { kv_ops: store.total(), batches: byBatch.size, pruned, remaining };
    } catch (e) {
      // Put the markers back: the next fold tries again.
      await this.save(new Map(), dirty);
      console.error(JSON.stringify({ msg: "fold failed", project: projectId, error: String(e) }));
      throw e;
    } finally {
      this.lastFold = Date.now();
      await this.reschedule();
    }
  }
}

export function accountStub(env: Env): DurableObjectStub<AccountCoordinator> {
  return env.ACCOUNT_COORDINATOR.get(env.ACCOUNT_COORDINATOR.idFromName("account"));
}

export function projectStub(env: Env, projectId: string): DurableObjectStub<ProjectCoordinator> {
  return env.PROJECT_COORDINATOR.get(env.PROJECT_COORDINATOR.idFromName(projectId));
}

export interface InvocationStats {
  count: number;
  max_kv_ops: number;
  pages: number;
}

export class AccountCoordinator extends DurableObject<Env> {
  private tokens = -1;
  private refilled = 0;
  private tat = 0;
  private stats: Record<string, InvocationStats> = {};
  private aiRequests = 0;

  /** Takes up to `n` dispatch tokens (a bucket of one minute's budget, refilled at the budget's rate). */
  async take(n: number, perMinute: number, now: number): Promise<number> {
    if (this.tokens < 0) {
      this.tokens = perMinute;
      this.refilled = now;
    }
    this.tokens = Math.min(perMinute, this.tokens + ((now - this.refilled) * perMinute) / 60000);
    this.refilled = now;
    const got = Math.max(0, Math.min(n, Math.floor(this.tokens)));
    this.tokens -= got;
    return got;
  }

  /** Gives back tokens taken and not used (items busy elsewhere). */
  async refund(n: number, perMinute: number): Promise<void> {
    this.tokens = Math.min(perMinute, this.tokens + n);
  }

  /**
   * Reserves the slot of one AI request under `perMinute` (GCRA). Returns
   * how long to wait before sending it; when that is more than maxWaitMs
   * nothing is reserved and ok is false.
   */
  async acquire(perMinute: number, now: number, maxWaitMs: number): Promise<{ ok: boolean; waitMs: number }> {
    const interval = 60000 / perMinute;
    const tolerance = (Math.max(1, perMinute / 60) - 1) * interval; // a burst of one second's worth
    const tat = Math.max(this.tat, now);
    const wait = Math.max(0, tat - tolerance - now);
    if (wait > maxWaitMs) return { ok: false, waitMs: wait };
    this.tat = tat + interval;
    this.aiRequests++;
    return { ok: true, waitMs: wait };
  }

  async record(kind: string, kvOps: number, pages: number): Promise<void> {
    const s = (this.stats[kind] ??= { count: 0, max_kv_ops: 0, pages: 0 });
    s.count++;
    s.max_kv_ops = Math.max(s.max_kv_ops, kvOps);
    s.pages += pages;
  }

  async report(): Promise<{ invocations: Record<string, InvocationStats>; ai_requests: number }> {
    return { invocations: structuredClone(this.stats), ai_requests: this.aiRequests };
  }
}
