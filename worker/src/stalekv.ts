// Eventually consistent reads for the local stack (KV_STALE_SECONDS; the
// stack's --kv-stale-seconds). Never set in production: there Cloudflare
// provides the staleness itself.
//
// The model is the cache of the location the Worker runs in: a read is
// served from it when it holds the key, and what it read it keeps for
// KV_STALE_SECONDS (Cloudflare's cacheTtl, 60 s by default) without looking
// at the store again, missing keys included. What this Worker writes is
// put into the cache at once (Cloudflare: "changes are usually immediately
// visible in the location at which they are made"); what others write (the
// desktops, through the REST API) is not seen until the cached entry
// expires. Key listings are cached the same way, per prefix and cursor, and
// apart from the values; the Worker's writes do not change them.
//
// One cache per isolate (module state): on the local stack the cron, the
// queue consumers and the Durable Objects share it, one location. It lacks
// Cloudflare's unbounded lag ("60 s or more"), early eviction and the
// background refresh of hot keys.

import { intVar } from "./env";

interface Entry {
  value: string | null;
  metadata: unknown;
  at: number;
  until: number;
}

interface Listing {
  result: KVNamespaceListResult<unknown, string>;
  until: number;
}

const values = new Map<string, Entry>();
const listings = new Map<string, Listing>();
let lastSweep = 0;

/** What the cache did in this isolate: reads, served from the cache, served stale (the store held another value). */
export const staleCounts = { reads: 0, cached: 0, stale: 0, lists: 0, cached_lists: 0 };

function sweep(now: number, ttl: number): void {
  if (now - lastSweep < Math.max(ttl, 1000)) return;
  lastSweep = now;
  for (const [k, e] of values) if (e.until <= now) values.delete(k);
  for (const [k, l] of listings) if (l.until <= now) listings.delete(k);
}

/** The seconds of staleness the Worker's reads are given (0: off). */
export function staleSeconds(env: { KV_STALE_SECONDS?: string }): number {
  return intVar(env.KV_STALE_SECONDS, 0);
}

/**
 * Wraps one namespace binding (named `name`) so that its reads are up to
 * `seconds` old. Only the calls Store makes are served: get and
 * getWithMetadata as text, put and list. `now` is the clock (tests move it).
 */
export function staleKV(name: string, kv: KVNamespace, seconds: number, now: () => number = Date.now): KVNamespace {
  const ttl = seconds * 1000;
  const read = async (key: string): Promise<Entry> => {
    staleCounts.reads++;
    const t = now();
    sweep(t, ttl);
    const ck = name + "\0" + key;
    const e = values.get(ck);
    const cur = await kv.getWithMetadata(key, "text");
    if (e && t < e.until) {
      staleCounts.cached++;
      // Read anyway, only to count what the cache hides.
      if (cur.value !== e.value || JSON.stringify(cur.metadata ?? null) !== JSON.stringify(e.metadata ?? null)) staleCounts.stale++;
      return e;
    }
    const fresh = { value: cur.value, metadata: cur.metadata ?? null, at: t, until: t + ttl };
    values.set(ck, fresh);
    return fresh;
  };
  const wrapped = {
    async get(key: string, type?: unknown): Promise<string | null> {
      if (type !== undefined && type !== "text") throw new Error(`staleKV: get as ${String(type)} is not simulated (Store reads text)`);
      return (await read(key)).value;
    },
    async getWithMetadata(key: string, type?: unknown): Promise<KVNamespaceGetWithMetadataResult<string, unknown>> {
      if (type !== undefined && type !== "text") throw new Error(`staleKV: getWithMetadata as ${String(type)} is not simulated (Store reads text)`);
      const e = await read(key);
      return { value: e.value, metadata: e.metadata, cacheStatus: null } as KVNamespaceGetWithMetadataResult<string, unknown>;
    },
    async put(key: string, value: string, options?: KVNamespacePutOptions): Promise<void> {
      await kv.put(key, value, options);
      // Visible at once in the location that wrote it.
      const t = now();
      values.set(name + "\0" + key, { value, metadata: options?.metadata ?? null, at: t, until: t + ttl });
    },
    async list(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult<unknown, string>> {
      staleCounts.lists++;
      const t = now();
      sweep(t, ttl);
      const lk = [name, options?.prefix ?? "", options?.cursor ?? "", options?.limit ?? ""].join("\0");
      const l = listings.get(lk);
      if (l && t < l.until) {
        staleCounts.cached_lists++;
        return l.result;
      }
      const result = await kv.list(options);
      listings.set(lk, { result, until: t + ttl });
      return result;
    },
  };
  return wrapped as unknown as KVNamespace;
}

/** Forgets every cached entry (tests). */
export function resetStaleCache(): void {
  values.clear();
  listings.clear();
  lastSweep = 0;
  for (const k of Object.keys(staleCounts) as (keyof typeof staleCounts)[]) staleCounts[k] = 0;
}
