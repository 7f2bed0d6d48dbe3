// Merge functions for every record kind: the same rules as the desktop's
// model/merge.go (DESIGN.md section 4). Each merge is commutative,
// associative and idempotent, so the Worker and any number of desktops can
// read-merge-write the same key without coordination; a lost update is healed
// on the next write instead of silently dropped. The shared vectors in
// testdata/merge/*.json pin the Go and TypeScript behaviour together.

import { canonicalKind, kindOf, normalize } from "./canonical";
import {
  BATCH_STATUS_RANK,
  MAX_LOG_ENTRIES,
  PAGE_STATUS_RANK,
  type BatchData,
  type BatchPage,
  type BatchStatus,
  type CacheData,
  type KeyData,
  type LogData,
  type LogEntry,
  type PageData,
  type ProjectData,
  type QueueData,
  type QueueItem,
  type ReviewData,
  type ReviewDecision,
  type StatusData,
  type UserData,
} from "./types";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function instant(s: string): number {
  return RFC3339.test(s) ? Date.parse(s) : NaN;
}

/**
 * Compares two timestamps in the Go side's stamp order: absent or
 * unparsable stamps sort before every valid one (among themselves by text),
 * valid ones by instant, equal instants written differently by text.
 */
export function cmpTime(a: string | undefined, b: string | undefined): number {
  const x = a ?? "";
  const y = b ?? "";
  if (x === y) return 0;
  const tx = instant(x);
  const ty = instant(y);
  const okx = !Number.isNaN(tx);
  const oky = !Number.isNaN(ty);
  if (!okx && !oky) return cmpStr(x, y);
  if (!okx) return -1;
  if (!oky) return 1;
  if (tx !== ty) return tx < ty ? -1 : 1;
  return cmpStr(x, y);
}

export function laterTime(a: string | undefined, b: string | undefined): string {
  return cmpTime(a, b) >= 0 ? (a ?? "") : (b ?? "");
}

export function earlierTime(a: string | undefined, b: string | undefined): string {
  return cmpTime(a, b) <= 0 ? (a ?? "") : (b ?? "");
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deterministic tie-break: the record whose canonical bytes sort higher wins. */
function byBytes<T>(kind: string, a: T, b: T): T {
  return cmpStr(canonicalKind(kind, a), canonicalKind(kind, b)) >= 0 ? a : b;
}

function maxStr(a: string | undefined, b: string | undefined): string {
  const x = a ?? "";
  const y = b ?? "";
  return x >= y ? x : y;
}

// ---- single-writer records: the later stamp wins ---------------------------

export function mergeUser(a: UserData, b: UserData): UserData {
  const c = cmpTime(a.updated, b.updated) || cmpTime(a.created, b.created);
  if (c !== 0) return c > 0 ? a : b;
  return byBytes("user", a, b);
}

function laterCreated<T extends { created: string }>(kind: string) {
  return (a: T, b: T): T => {
    const c = cmpTime(a.created, b.created);
    if (c !== 0) return c > 0 ? a : b;
    return byBytes(kind, a, b);
  };
}

export const mergeEmail = laterCreated<{ user_id: string; created: string }>("email");
export const mergeSession = laterCreated<{ user_id: string; created: string }>("session");
export const mergeCache = laterCreated<CacheData>("cache");

export function mergeSet(a: string[] | null, b: string[] | null): string[] {
  return [...new Set([...(a ?? []), ...(b ?? [])])].sort(cmpStr);
}

// The part of a project taken whole from one side: without the fields
// merged separately, so the tie-break depends only on what it selects.
function projectSettingsPart(p: ProjectData): ProjectData {
  return { ...p, created: "", usage: { total_pages: 0, total_batches: 0, last_activity: "" } };
}

export function mergeProject(a: ProjectData, b: ProjectData): ProjectData {
  let c = cmpTime(a.settings_updated, b.settings_updated);
  if (c === 0) c = cmpStr(canonicalKind("project", projectSettingsPart(a)), canonicalKind("project", projectSettingsPart(b)));
  const win = c >= 0 ? a : b;
  return {
    ...win,
    created: earlierTime(a.created, b.created),
    usage: {
      total_pages: Math.max(a.usage?.total_pages ?? 0, b.usage?.total_pages ?? 0),
      total_batches: Math.max(a.usage?.total_batches ?? 0, b.usage?.total_batches ?? 0),
      last_activity: laterTime(a.usage?.last_activity, b.usage?.last_activity),
    },
  };
}

// ---- apikey: D creates/deactivates, W counts usage -------------------------

// cmpDay orders the UTC calendar day of last_used stamps (unparsable first).
function cmpDay(a: string, b: string): number {
  const ta = instant(a ?? "");
  const tb = instant(b ?? "");
  if (Number.isNaN(ta) && Number.isNaN(tb)) return cmpStr(a ?? "", b ?? "");
  if (Number.isNaN(ta)) return -1;
  if (Number.isNaN(tb)) return 1;
  return cmpStr(new Date(ta).toISOString().slice(0, 10), new Date(tb).toISOString().slice(0, 10));
}

export function mergeApiKey(a: KeyData, b: KeyData): KeyData {
  const out: KeyData = { ...a, usage: { ...a.usage } };
  // user_id and name never change after creation; the larger pair settles a disagreement.
  const c = cmpStr(b.user_id, a.user_id);
  if (c > 0 || (c === 0 && b.name > a.name)) {
    out.user_id = b.user_id;
    out.name = b.name;
  }
  out.active = a.active && b.active; // deactivation is sticky
  out.created = earlierTime(a.created, b.created);
  out.last_used = laterTime(a.last_used, b.last_used);
  out.usage.requests_total = Math.max(a.usage.requests_total, b.usage.requests_total);
  // requests_today belongs to the day of last_used: compare (day, count) as a pair.
  const d = cmpDay(a.last_used, b.last_used);
  out.usage.requests_today =
    d > 0 ? a.usage.requests_today : d < 0 ? b.usage.requests_today : Math.max(a.usage.requests_today, b.usage.requests_today);
  return out;
}

// ---- review: per block, the later decision wins ----------------------------

export function mergeReview(a: ReviewData, b: ReviewData): ReviewData {
  const blocks: Record<string, ReviewDecision> = { ...(a.blocks ?? {}) };
  for (const [id, d] of Object.entries(b.blocks ?? {})) {
    const cur = blocks[id];
    if (!cur) {
      blocks[id] = d;
      continue;
    }
    const c = cmpTime(cur.decided, d.decided);
    blocks[id] = c > 0 ? cur : c < 0 ? d : byBytes("review", { blocks: { x: cur } }, { blocks: { x: d } }).blocks!.x;
  }
  return {
    page_id: maxStr(a.page_id, b.page_id),
    project_id: maxStr(a.project_id, b.project_id),
    blocks,
    updated: laterTime(a.updated, b.updated),
  };
}

// ---- page: D owns extraction, W owns optimization --------------------------

const EXTRACTION_GROUP = [
  "page_id",
  "project_id",
  "batch_id",
  "source_path",
  "uploaded",
  "extraction",
  "content_hash",
  "audit",
  "source_missing",
] as const;

export function mergePage(a: PageData, b: PageData): PageData {
  const ea = { ...a, optimization: undefined };
  const eb = { ...b, optimization: undefined };
  const c = cmpTime(a.uploaded, b.uploaded) || cmpStr(a.content_hash ?? "", b.content_hash ?? "");
  const win = c > 0 ? ea : c < 0 ? eb : byBytes("page", ea, eb);
  const out: PageData = {} as PageData;
  for (const f of EXTRACTION_GROUP) (out as unknown as Record<string, unknown>)[f] = win[f];
  // An optimization is only kept when computed from the merged content: one
  // computed for older content is stale (DESIGN.md section 4).
  const want = out.content_hash ?? "";
  let opt: PageData["optimization"];
  for (const o of [a.optimization, b.optimization]) {
    if (!o || (o.source_hash ?? "") !== want) continue;
    if (!opt) {
      opt = o;
      continue;
    }
    const oc = cmpTime(opt.completed, o.completed);
    if (oc < 0) opt = o;
    else if (oc === 0) {
      opt = byBytes("page", { optimization: opt }, { optimization: o }).optimization;
    }
  }
  if (opt) out.optimization = opt;
  return out;
}

// ---- status: compare (batch_id, rank, updated) ------------------------------

export function mergeStatus(a: StatusData, b: StatusData): StatusData {
  let c = cmpStr(a.batch_id ?? "", b.batch_id ?? "");
  if (c === 0) c = (PAGE_STATUS_RANK[a.status] ?? -1) - (PAGE_STATUS_RANK[b.status] ?? -1);
  if (c === 0) c = cmpTime(a.updated, b.updated);
  if (c !== 0) return c > 0 ? a : b;
  return byBytes("status", a, b);
}

// ---- queue: union by (batch_id, page_id) ------------------------------------

export function sortQueue(items: QueueItem[]): QueueItem[] {
  return items.sort(
    (x, y) =>
      y.priority - x.priority ||
      cmpTime(x.queued_at, y.queued_at) ||
      cmpStr(x.batch_id, y.batch_id) ||
      cmpStr(x.page_id, y.page_id),
  );
}

export function mergeQueue(a: QueueData, b: QueueData): QueueData {
  const m = new Map<string, QueueItem>();
  for (const it of [...(a.items ?? []), ...(b.items ?? [])]) {
    const k = it.batch_id + "\u0000" + it.page_id;
    const cur = m.get(k);
    if (!cur) {
      m.set(k, { ...it });
      continue;
    }
    m.set(k, {
      page_id: it.page_id,
      batch_id: it.batch_id,
      priority: Math.max(cur.priority, it.priority),
      queued_at: earlierTime(cur.queued_at, it.queued_at),
      attempts: Math.max(cur.attempts, it.attempts),
    });
  }
  return {
    items: sortQueue([...m.values()]),
    last_processed: laterTime(a.last_processed, b.last_processed),
  };
}

// ---- logs: union by (timestamp, step, message), newest 1000 ----------------

function cmpEntry(x: LogEntry, y: LogEntry): number {
  return cmpTime(x.timestamp, y.timestamp) || cmpStr(x.step, y.step) || cmpStr(x.message, y.message);
}

export function mergeLogs(a: LogData, b: LogData): LogData {
  const m = new Map<string, LogEntry>();
  for (const e of [...(a.entries ?? []), ...(b.entries ?? [])]) {
    const k = JSON.stringify([e.timestamp, e.step, e.message]);
    const cur = m.get(k);
    m.set(k, cur ? byBytes("logs", { entries: [cur] }, { entries: [e] }).entries![0] : e);
  }
  let entries = [...m.values()].sort(cmpEntry);
  if (entries.length > MAX_LOG_ENTRIES) entries = entries.slice(entries.length - MAX_LOG_ENTRIES);
  return { page_id: maxStr(a.page_id, b.page_id), entries };
}

// ---- batch: per page rank then time; summary and status derived -----------

function pageTime(p: BatchPage): string {
  return laterTime(p.completed, laterTime(p.started, p.uploaded));
}

export function mergeBatchPage(x: BatchPage, y: BatchPage): BatchPage {
  let c = (PAGE_STATUS_RANK[x.status] ?? -1) - (PAGE_STATUS_RANK[y.status] ?? -1);
  if (c === 0) c = cmpTime(pageTime(x), pageTime(y));
  if (c !== 0) return c > 0 ? x : y;
  return byBytes("batch", { pages: { x } }, { pages: { x: y } }).pages!.x;
}

export function summarize(pages: Record<string, BatchPage>): BatchData["summary"] {
  let completed = 0;
  let failed = 0;
  let pending = 0;
  let totalMs = 0;
  let timed = 0;
  for (const p of Object.values(pages)) {
    if (p.status === "done") {
      completed++;
      const st = instant(p.started ?? "");
      const ct = instant(p.completed ?? "");
      if (!Number.isNaN(st) && !Number.isNaN(ct)) {
        // whole milliseconds; a negative duration (clock skew) counts as 0
        totalMs += Math.max(Math.floor(ct) - Math.floor(st), 0);
        timed++;
      }
    } else if (p.status === "failed") failed++;
    else pending++;
  }
  return { completed, failed, pending, average_time_ms: timed ? Math.floor(totalMs / timed) : 0 };
}

/**
 * The batch status the pages imply: "" while no page has started, processing
 * while some page has started and not all are finished, then completed if
 * any page is done, else failed.
 */
export function deriveBatchStatus(pages: Record<string, BatchPage>): BatchStatus | "" {
  const list = Object.values(pages);
  const terminal = list.filter((p) => p.status === "done" || p.status === "failed").length;
  if (list.length > 0 && terminal === list.length) return list.some((p) => p.status === "done") ? "completed" : "failed";
  if (list.some((p) => (PAGE_STATUS_RANK[p.status] ?? -1) >= 2)) return "processing";
  return "";
}

function maxBatchStatus(...s: string[]): BatchStatus {
  let best = s[0];
  for (const x of s.slice(1)) {
    const c = (BATCH_STATUS_RANK[x] ?? -1) - (BATCH_STATUS_RANK[best] ?? -1);
    if (c > 0 || (c === 0 && x > best)) best = x;
  }
  return best as BatchStatus;
}

export function mergeBatch(a: BatchData, b: BatchData): BatchData {
  const pages: Record<string, BatchPage> = { ...(a.pages ?? {}) };
  for (const [id, p] of Object.entries(b.pages ?? {})) {
    pages[id] = pages[id] ? mergeBatchPage(pages[id], p) : p;
  }
  return finishBatch({
    batch_id: maxStr(a.batch_id, b.batch_id),
    project_id: maxStr(a.project_id, b.project_id),
    created: earlierTime(a.created, b.created),
    page_count: Math.max(a.page_count ?? 0, b.page_count ?? 0, Object.keys(pages).length),
    status: maxBatchStatus(a.status, b.status),
    pages,
    summary: { completed: 0, failed: 0, pending: 0, average_time_ms: 0 },
  });
}

/** Recomputes the derived parts of a batch (summary, status) from its pages. */
export function finishBatch(b: BatchData): BatchData {
  const pages = b.pages ?? {};
  return {
    ...b,
    page_count: Math.max(b.page_count ?? 0, Object.keys(pages).length),
    summary: summarize(pages),
    status: maxBatchStatus(b.status, deriveBatchStatus(pages)),
  };
}

// ---- by key ----------------------------------------------------------------

type MergeFn = (a: any, b: any) => any;

export const MERGERS: Record<string, MergeFn> = {
  user: mergeUser,
  email: mergeEmail,
  session: mergeSession,
  project: mergeProject,
  projects: mergeSet,
  apikeys: mergeSet,
  apikey: mergeApiKey,
  cache: mergeCache,
  page: mergePage,
  review: mergeReview,
  batch: mergeBatch,
  queue: mergeQueue,
  status: mergeStatus,
  logs: mergeLogs,
};

/** Merges two decoded records of a kind; inputs are normalised through the kind's schema first. */
export function mergeKind<T>(kind: string, a: unknown, b: unknown): T {
  const f = MERGERS[kind];
  if (!f) throw new Error(`merge: unknown kind ${JSON.stringify(kind)}`);
  return normalize<T>(kind, f(normalize(kind, a), normalize(kind, b)));
}

/** Merges two encoded values of the same key and returns canonical JSON. */
export function mergeValue(key: string, a: string, b: string): string {
  const kind = kindOf(key);
  return canonicalKind(kind, mergeKind(kind, JSON.parse(a), JSON.parse(b)));
}
