// Read staleness for the local stack's KV REST adapter (stack.mjs
// --kv-stale-seconds N): Workers KV is eventually consistent, and this is
// the part of it a REST client meets.
//
// The model is Cloudflare's edge cache. A read at a location is served from
// that location's cache when it holds the key, and the cache keeps what it
// read for its TTL (cacheTtl, 60 s by default on Cloudflare; N here) without
// looking at the central store again. So:
//
//   - every reader (one API token: the adapter puts each token in a location
//     of its own) has its own cache; two desktops with two tokens see
//     different ages of the same key;
//   - once a reader got a version of a key it keeps getting that version
//     (value and metadata together, as KV stores them) until the entry is N
//     seconds old, however often the key changes meanwhile; then the next
//     read takes the store's current version and keeps it for N seconds;
//   - a missing key is cached too (Cloudflare caches negative lookups);
//   - key listings are cached per reader and prefix the same way, apart from
//     the values: a listing can show a newer hash than the value a bulk get
//     serves, or an older one; every page of one listing comes from one
//     snapshot (the cursor names it);
//   - a reader's own writes do not refresh its cache: the REST API writes to
//     the central store, and nothing promises that the reading location sees
//     it sooner than the others (Cloudflare's read-your-writes holds only for
//     reads in the location that wrote, "usually");
//   - writes apply to the store at once: the Worker on workerd sees them.
//
// What this lacks: Cloudflare's staleness has no hard bound (the documents
// say "60 seconds or more"); here a write is visible to every reader N
// seconds after it at the latest, and at once to a reader that had no entry
// for the key. Entries do not expire early (no eviction under memory
// pressure), and there is no "hot read" refresh in the background. The
// Worker's own reads are stale on their own terms (worker/src/stalekv.ts,
// KV_STALE_SECONDS).

import { createHash } from "node:crypto";

const sha = (buf) => createHash("sha256").update(buf).digest("hex");

/**
 * createStaleReads({ seconds, now }) -> the adapter's read caches.
 * seconds <= 0: every read goes to the store (off). now: clock in ms
 * (default Date.now), so tests can move time by hand.
 */
export function createStaleReads({ seconds, now = Date.now } = {}) {
  const ttl = Math.max(0, Number(seconds) || 0) * 1000;
  /** reader \0 ns \0 key -> { item: {value: Buffer, metadata} | null, until } */
  const values = new Map();
  /** reader \0 ns \0 prefix -> snapshot id */
  const listings = new Map();
  /** snapshot id -> { keys, until, keepUntil } */
  const snapshots = new Map();
  let nextSnap = 1;
  let lastSweep = 0;
  const counts = { reads: 0, cached: 0, stale: 0, lists: 0, stale_lists: 0, oldest_stale_ms: 0 };

  function sweep(t) {
    if (t - lastSweep < Math.max(ttl, 1000)) return;
    lastSweep = t;
    for (const [k, e] of values) if (e.until <= t) values.delete(k);
    for (const [k, id] of listings) if (!snapshots.has(id) || snapshots.get(id).until <= t) listings.delete(k);
    for (const [id, s] of snapshots) if (s.keepUntil <= t) snapshots.delete(id);
  }

  const sameItem = (a, b) =>
    a === null || b === null ? a === b : sha(a.value) === sha(b.value) && JSON.stringify(a.metadata ?? null) === JSON.stringify(b.metadata ?? null);

  return {
    enabled: ttl > 0,
    seconds: ttl / 1000,

    /**
     * The version of one key this reader sees: read(key) -> {value: Buffer,
     * metadata} | null is the store's current one.
     */
    async get(reader, ns, key, read) {
      counts.reads++;
      if (ttl <= 0) return read(key);
      const t = now();
      sweep(t);
      const ck = reader + "\0" + ns + "\0" + key;
      const e = values.get(ck);
      if (e && t < e.until) {
        counts.cached++;
        // Counted only to show the staleness at work (the figure the e2e
        // prints); the answer is the cached version either way.
        const cur = await read(key);
        if (!sameItem(cur, e.item)) {
          counts.stale++;
          counts.oldest_stale_ms = Math.max(counts.oldest_stale_ms, t - e.at);
        }
        return e.item;
      }
      const item = await read(key);
      values.set(ck, { item, at: t, until: t + ttl });
      return item;
    },

    /**
     * One page of a listing from this reader's snapshot of prefix.
     * readAll() -> [{name, expiration?, metadata?}] (sorted) is the store's
     * listing now. Returns { keys, cursor } ("" on the last page) or
     * { error } for a cursor that names no snapshot.
     */
    async list(reader, ns, prefix, { cursor = "", limit = 1000 } = {}, readAll) {
      counts.lists++;
      const t = now();
      sweep(t);
      let snap;
      let offset = 0;
      if (cursor) {
        const m = /^s(\d+)o(\d+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
        snap = m && snapshots.get(m[1]);
        if (!snap) return { error: "cursor expired or unknown: list again from the start" };
        offset = Number(m[2]);
      } else {
        const lk = reader + "\0" + ns + "\0" + prefix;
        const id = listings.get(lk);
        const cur = id && snapshots.get(id);
        if (ttl > 0 && cur && t < cur.until) {
          snap = cur;
          const fresh = await readAll();
          if (JSON.stringify(fresh) !== JSON.stringify(cur.keys)) counts.stale_lists++;
        } else {
          const sid = String(nextSnap++);
          // A snapshot outlives its TTL a little, for the cursors of a
          // listing that started before it expired.
          snap = { keys: await readAll(), until: t + ttl, keepUntil: t + ttl + 120_000 };
          snapshots.set(sid, snap);
          snap.id = sid;
          if (ttl > 0) listings.set(lk, sid);
        }
      }
      const keys = snap.keys.slice(offset, offset + limit);
      const end = offset + keys.length;
      const next = end < snap.keys.length ? Buffer.from(`s${snap.id}o${end}`).toString("base64url") : "";
      return { keys, cursor: next };
    },

    /** What the caches did: reads, served from a cache, served stale (the store held another version), listings. */
    stats() {
      return { seconds: ttl / 1000, ...counts };
    },
  };
}
