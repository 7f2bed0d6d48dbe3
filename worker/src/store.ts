// Read-merge-write access to the eleven namespaces. Every write merges with
// what is stored (the same merge as the desktop), is encoded canonically, and
// carries the KV metadata the desktop's remote index reads:
// {"h": sha256 hex of exactly the bytes written, "u": the record's updated
// stamp, "s": status (status keys only)}. Writes to one key from one
// invocation are serialised, so concurrent pages of the same batch do not
// overwrite each other's entries (KV itself has no compare-and-swap).

import { canonicalKind, kindOf, sha256Hex } from "./canonical";
import { intVar, KIND_NAMESPACE, NAMESPACES, type Env, type NamespaceName } from "./env";
import { mergeKind } from "./merge";
import { staleKV, staleSeconds } from "./stalekv";
import { validateRecord } from "./validate";

export interface KVMeta {
  h: string;
  u: string;
  s?: string;
}

/** The "u" of a record: its own notion of when it last changed. */
export function updatedOf(kind: string, v: any): string {
  const pick = (...xs: (string | undefined)[]) => xs.filter(Boolean).sort().pop() ?? "";
  switch (kind) {
    case "status":
      return v.updated ?? "";
    case "page":
      return pick(v.uploaded, v.optimization?.completed, v.source_missing);
    case "batch":
      return pick(
        v.created,
        ...Object.values((v.pages ?? {}) as Record<string, any>).map((p) => p.completed || p.started || p.uploaded),
      );
    case "queue":
      return pick(v.last_processed, ...(v.items ?? []).map((i: any) => i.queued_at));
    case "logs":
      return pick(...(v.entries ?? []).map((e: any) => e.timestamp));
    case "apikey":
      return pick(v.created, v.last_used);
    case "review":
      return v.updated ?? "";
    case "project":
      return pick(v.created, v.settings_updated, v.usage?.last_activity);
    case "user":
      return pick(v.created, v.updated);
    default:
      return v.created ?? "";
  }
}

export class RecordError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/**
 * Cloudflare allows 1,000 KV operations per Worker invocation (paid plan;
 * 50 on the free plan) and fails every one after that. The Store counts its
 * operations and refuses the one past the limit the same way, so the local
 * stack and the tests meet the platform's limit instead of a kinder one.
 */
export class KVLimitError extends Error {
  constructor(readonly limit: number) {
    super(`KV: more than ${limit} operations in one invocation (Cloudflare's limit per Worker invocation)`);
  }
}

export class Store {
  private locks = new Map<string, Promise<unknown>>();
  private lastWrite = new Map<string, number>();
  /** The record each key holds after this Store's last put (written or already there). */
  private lastPuts = new Map<string, unknown>();
  /** KV operations made by this Store (reads and writes); tests and logs use it. */
  ops = { reads: 0, writes: 0, skipped: 0 };
  /** KV_OPS_LIMIT: operations allowed per invocation (default 1,000). */
  readonly opsLimit: number;

  /** Operations made so far (reads + writes). */
  total(): number {
    return this.ops.reads + this.ops.writes;
  }

  private count(kind: "reads" | "writes"): void {
    if (this.total() >= this.opsLimit) throw new KVLimitError(this.opsLimit);
    this.ops[kind]++;
  }

  /**
   * Cloudflare KV accepts about one write per second per key; writes to the
   * same key closer together than this are delayed (0 in tests).
   */
  readonly minWriteIntervalMs: number;

  /** KV_STALE_SECONDS (local stack only): reads up to this old (src/stalekv.ts). */
  private readonly staleSeconds: number;

  constructor(readonly env: Env) {
    this.minWriteIntervalMs = intVar(env.KV_MIN_WRITE_INTERVAL_MS, 1000);
    this.opsLimit = intVar(env.KV_OPS_LIMIT, 1000, 1);
    this.staleSeconds = staleSeconds(env);
  }

  private binding(name: NamespaceName): KVNamespace {
    const kv = this.env[name];
    return this.staleSeconds > 0 ? staleKV(name, kv, this.staleSeconds) : kv;
  }

  ns(key: string): KVNamespace {
    const name = KIND_NAMESPACE[kindOf(key)];
    if (!name) throw new RecordError(key, "unknown key kind");
    return this.binding(name);
  }

  /** Reads and decodes a record; null when missing. A value that is not JSON is an error naming the key. */
  async get<T>(key: string): Promise<T | null> {
    this.count("reads");
    const text = await this.ns(key).get(key, "text");
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new RecordError(key, `stored value is not JSON (${(e as Error).message})`);
    }
  }

  /** Reads a record with its metadata. */
  async getWithMeta<T>(key: string): Promise<{ value: T; meta: KVMeta | null } | null> {
    this.count("reads");
    const r = await this.ns(key).getWithMetadata<KVMeta>(key, "text");
    if (r.value === null) return null;
    try {
      return { value: JSON.parse(r.value) as T, meta: r.metadata };
    } catch (e) {
      throw new RecordError(key, `stored value is not JSON (${(e as Error).message})`);
    }
  }

  /** Serialises async work on one key within this invocation. */
  private async locked<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = prev.then(() => mine);
    this.locks.set(key, chain);
    await prev.catch(() => undefined);
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === chain) this.locks.delete(key);
    }
  }

  /**
   * Merges `next` into the stored record and writes the result (skipping the
   * write when the bytes are unchanged). `prepare` may rewrite the merged
   * record before it is written (e.g. pruning a queue); it must keep the
   * result a fixpoint of the merge with the stored value's newer state.
   */
  async put<T>(key: string, next: T, prepare?: (merged: T) => Promise<T> | T): Promise<T> {
    const kind = kindOf(key);
    return this.locked(key, async () => {
      const ns = this.ns(key);
      this.count("reads");
      const cur = await ns.get(key, "text");
      let merged: T;
      if (cur === null) merged = mergeKind<T>(kind, next, next);
      else {
        let parsed: unknown;
        try {
          parsed = JSON.parse(cur);
        } catch (e) {
          throw new RecordError(key, `stored value is not JSON, refusing to overwrite it (${(e as Error).message})`);
        }
        merged = mergeKind<T>(kind, parsed, next);
      }
      if (prepare) merged = await prepare(merged);
      // Validate before storing (the seed's rule 4), as model does.
      const problems = validateRecord(key, merged);
      if (problems.length) throw new RecordError(key, `invalid record, not written: ${problems.join("; ")}`);
      const bytes = canonicalKind(kind, merged);
      this.lastPuts.set(key, merged);
      if (bytes === cur) {
        this.ops.skipped++;
        return merged;
      }
      const meta: KVMeta = { h: await sha256Hex(bytes), u: updatedOf(kind, merged) };
      if (kind === "status") meta.s = (merged as any).status;
      const wait = (this.lastWrite.get(key) ?? -Infinity) + this.minWriteIntervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.count("writes");
      await ns.put(key, bytes, { metadata: meta });
      this.lastWrite.set(key, Date.now());
      return merged;
    });
  }

  /** The merged record of this Store's last put of key (undefined: none), as written or found already there. */
  lastPut<T>(key: string): T | undefined {
    return this.lastPuts.get(key) as T | undefined;
  }

  /**
   * Writes a record whose key names its content (cache:{hash of what was
   * asked}) without reading it first: any two writers write the same
   * answer, so there is nothing to merge, and the read would cost one of
   * the invocation's operations for every block.
   */
  async putFresh<T>(key: string, value: T): Promise<void> {
    const kind = kindOf(key);
    const merged = mergeKind<T>(kind, value, value);
    const problems = validateRecord(key, merged);
    if (problems.length) throw new RecordError(key, `invalid record, not written: ${problems.join("; ")}`);
    const bytes = canonicalKind(kind, merged);
    const meta: KVMeta = { h: await sha256Hex(bytes), u: updatedOf(kind, merged) };
    this.count("writes");
    await this.ns(key).put(key, bytes, { metadata: meta });
    this.lastWrite.set(key, Date.now());
  }

  /** Lists every key with a prefix in a namespace (all pages of the listing). */
  async list(binding: KVNamespace, prefix: string): Promise<string[]> {
    const name = NAMESPACES.find((n) => this.env[n] === binding);
    const ns = name ? this.binding(name) : binding;
    const out: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      this.count("reads");
      const r = await ns.list({ prefix, cursor });
      for (const k of r.keys) out.push(k.name);
      if (r.list_complete) break;
      cursor = r.cursor;
    }
    return out;
  }
}
