// Validation before storing (the seed's rule 4): every value the Worker
// writes passes the checks `model` runs on it (model/validate.go), for the
// kinds the Worker writes: status, page, batch, queue, logs, cache. The
// problems are worded and pathed as the Go side words them
// (`pages["page_abc"].status: "donee" is not one of ...`); the shared
// vectors in testdata/validate/*.json pin both.
//
// Not checked here (the Go side checks them; the Worker never changes
// these fields, it merges onto what the desktop wrote): that a page's
// page_id is md5(project_id + source_path) and that source_path is
// normalised (NFC, `/`), and the audit block of a page.

import { kindOf } from "./canonical";

const PAGE_STATUSES = ["uploaded", "queued", "processing", "done", "failed"];
const BATCH_STATUSES = ["uploading", "queued", "processing", "completed", "failed"];
const LOG_LEVELS = ["info", "warn", "error"];
const MAX_LOG_ENTRIES = 1000;

const reProjectID = /^proj_[0-9a-f]{12}$/;
const rePageID = /^page_[0-9a-f]{12}$/;
const reBatchID = /^batch_[0-9]{8}_[0-9]{6}$/;
const reHex64 = /^[0-9a-f]{64}$/;
// RFC 3339 (Go's time.RFC3339Nano parses exactly these).
const reTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

export function isTimestamp(v: string): boolean {
  const m = reTime.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

const q = (s: unknown) => JSON.stringify(String(s));

class Checker {
  problems: string[] = [];
  add(path: string, msg: string) {
    this.problems.push(path ? `${path}: ${msg}` : msg);
  }
  str(v: unknown): string {
    return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
  }
  required(path: string, v: unknown): boolean {
    if (this.str(v).trim() === "") {
      this.add(path, "required");
      return false;
    }
    return true;
  }
  timestamp(path: string, v: unknown, required: boolean) {
    const s = this.str(v);
    if (s === "") {
      if (required) this.add(path, "required (ISO 8601 timestamp)");
      return;
    }
    if (!isTimestamp(s)) this.add(path, `${q(s)} is not an ISO 8601 timestamp`);
  }
  enum(path: string, v: unknown, allowed: string[]) {
    const s = this.str(v);
    if (!allowed.includes(s)) this.add(path, `${q(s)} is not one of ${allowed.join("|")}`);
  }
  format(path: string, v: unknown, re: RegExp, want: string, required: boolean) {
    const s = this.str(v);
    if (s === "") {
      if (required) this.add(path, `required (${want})`);
      return;
    }
    if (!re.test(s)) this.add(path, `${q(s)} is not ${want}`);
  }
  batchID(path: string, v: unknown, required: boolean) {
    this.format(path, v, reBatchID, "batch_YYYYMMDD_HHMMSS", required);
    const s = this.str(v);
    if (reBatchID.test(s)) {
      const [d, t] = s.slice(6).split("_");
      const y = +d.slice(0, 4), mo = +d.slice(4, 6), dd = +d.slice(6, 8);
      const h = +t.slice(0, 2), mi = +t.slice(2, 4), se = +t.slice(4, 6);
      if (mo < 1 || mo > 12 || dd < 1 || dd > daysIn(y, mo) || h > 23 || mi > 59 || se > 59) this.add(path, `${q(s)} is not a real UTC date and time`);
    }
  }
  nonNegative(path: string, v: unknown) {
    const n = Number(v ?? 0);
    if (n < 0) this.add(path, `${n} is negative`);
  }
  range(path: string, v: unknown, lo: number, hi: number) {
    const n = Number(v ?? 0);
    if (n < lo || n > hi) this.add(path, `${n} is not within ${lo}-${hi}`);
  }
  unit(path: string, v: unknown) {
    const n = Number(v ?? 0);
    if (n < 0 || n > 1) this.add(path, `${n} is not within 0-1`);
  }
  equal(path: string, got: unknown, want: string, what: string) {
    if (this.str(got) !== want) this.add(path, `${q(got ?? "")} does not match the key's ${what} ${q(want)}`);
  }
}

const idx = (p: string, i: number) => `${p}[${i}]`;
const mk = (p: string, k: string) => `${p}[${q(k)}]`;

function blocks(c: Checker, path: string, list: any) {
  for (const [i, b] of (Array.isArray(list) ? list : []).entries()) {
    c.required(`${idx(path, i)}.id`, b?.id);
    c.required(`${idx(path, i)}.type`, b?.type);
  }
}

/** The problems of a record about to be written at `key`; empty when it is valid. */
export function validateRecord(key: string, v: any): string[] {
  const c = new Checker();
  const kind = kindOf(key);
  const parts = key.split(":");
  const id = parts[1] ?? "";
  const secondary = parts.slice(2).join(":");
  if (v === null || typeof v !== "object" || Array.isArray(v)) return ["not a JSON object"];
  switch (kind) {
    case "status": {
      c.enum("status", v.status, PAGE_STATUSES);
      c.batchID("batch_id", v.batch_id, true);
      c.timestamp("updated", v.updated, true);
      if (v.processing) {
        c.timestamp("processing.started", v.processing.started, true);
        c.range("processing.progress", v.processing.progress, 0, 100);
      }
      if (v.result) {
        c.timestamp("result.completed", v.result.completed, true);
        c.nonNegative("result.changes", v.result.changes);
        c.unit("result.confidence", v.result.confidence);
      }
      if (v.error) {
        c.required("error.message", v.error.message);
        c.timestamp("error.timestamp", v.error.timestamp, true);
      }
      c.format("key", id, reProjectID, "status:{proj_ + 12 hex}:...", true);
      c.format("key", secondary, rePageID, "status:...:{page_ + 12 hex}", true);
      break;
    }
    case "page": {
      c.format("page_id", v.page_id, rePageID, "page_ + 12 hex", true);
      c.format("project_id", v.project_id, reProjectID, "proj_ + 12 hex", true);
      c.batchID("batch_id", v.batch_id, false);
      c.required("source_path", v.source_path);
      c.timestamp("uploaded", v.uploaded, true);
      const e = v.extraction ?? {};
      c.required("extraction.engine", e.engine);
      blocks(c, "extraction.above_fold_blocks", e.above_fold_blocks);
      blocks(c, "extraction.rest_of_page_blocks", e.rest_of_page_blocks);
      c.format("content_hash", v.content_hash, reHex64, "64 hex (sha256)", false);
      const o = v.optimization;
      if (o) {
        c.timestamp("optimization.completed", o.completed, true);
        c.required("optimization.model", o.model);
        c.unit("optimization.confidence", o.confidence);
        c.nonNegative("optimization.changes", o.changes);
        blocks(c, "optimization.optimized_blocks", o.optimized_blocks);
        c.format("optimization.source_hash", o.source_hash, reHex64, "64 hex (sha256)", false);
      }
      c.timestamp("source_missing", v.source_missing, false);
      c.format("key", id, reProjectID, "page:{proj_ + 12 hex}:...", true);
      c.equal("project_id", v.project_id, id, "project id");
      c.equal("page_id", v.page_id, secondary, "page id");
      break;
    }
    case "batch": {
      c.batchID("batch_id", v.batch_id, true);
      c.format("project_id", v.project_id, reProjectID, "proj_ + 12 hex", true);
      c.timestamp("created", v.created, true);
      c.nonNegative("page_count", v.page_count);
      c.enum("status", v.status, BATCH_STATUSES);
      for (const [pid, pg] of Object.entries((v.pages ?? {}) as Record<string, any>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const p = mk("pages", pid);
        if (!rePageID.test(pid)) c.add(p, `page id ${q(pid)} is not page_ + 12 hex`);
        c.enum(`${p}.status`, pg?.status, PAGE_STATUSES);
        c.timestamp(`${p}.uploaded`, pg?.uploaded, true);
        c.timestamp(`${p}.started`, pg?.started, false);
        c.timestamp(`${p}.completed`, pg?.completed, false);
      }
      const s = v.summary ?? {};
      c.nonNegative("summary.completed", s.completed);
      c.nonNegative("summary.failed", s.failed);
      c.nonNegative("summary.pending", s.pending);
      c.nonNegative("summary.average_time_ms", s.average_time_ms);
      c.equal("project_id", v.project_id, id, "project id");
      c.equal("batch_id", v.batch_id, secondary, "batch id");
      break;
    }
    case "queue": {
      for (const [i, it] of ((v.items ?? []) as any[]).entries()) {
        const p = idx("items", i);
        c.format(`${p}.page_id`, it?.page_id, rePageID, "page_ + 12 hex", true);
        c.batchID(`${p}.batch_id`, it?.batch_id, true);
        c.range(`${p}.priority`, it?.priority, 1, 10);
        c.timestamp(`${p}.queued_at`, it?.queued_at, true);
        c.nonNegative(`${p}.attempts`, it?.attempts);
      }
      c.timestamp("last_processed", v.last_processed, false);
      c.format("key", id, reProjectID, "queue:{proj_ + 12 hex}", true);
      break;
    }
    case "logs": {
      c.format("page_id", v.page_id, rePageID, "page_ + 12 hex", false);
      const entries = (v.entries ?? []) as any[];
      if (entries.length > MAX_LOG_ENTRIES) c.add("entries", `${entries.length} entries, at most ${MAX_LOG_ENTRIES} are kept`);
      for (const [i, e] of entries.entries()) {
        const p = idx("entries", i);
        c.timestamp(`${p}.timestamp`, e?.timestamp, true);
        c.enum(`${p}.level`, e?.level, LOG_LEVELS);
        c.required(`${p}.message`, e?.message);
        if (e?.duration_ms !== undefined && e?.duration_ms !== null) c.nonNegative(`${p}.duration_ms`, e.duration_ms);
      }
      c.format("key", id, reProjectID, "logs:{proj_ + 12 hex}:...", true);
      if (c.str(v.page_id) !== "") c.equal("page_id", v.page_id, secondary, "page id");
      break;
    }
    case "cache": {
      if (v.data === undefined || v.data === null) c.add("data", "required");
      c.timestamp("created", v.created, true);
      c.timestamp("expires", v.expires, true);
      c.required("type", v.type);
      break;
    }
    default:
      // Kinds the Worker does not write but merges (apikey usage) are the
      // desktop's records: the merge keeps their shape.
      break;
  }
  return c.problems;
}
