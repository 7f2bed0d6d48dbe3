// KV_STALE_SECONDS (the local stack's --kv-stale-seconds): the Worker's reads
// through one location's cache, on the real test binding, with a clock moved
// by hand.
import { beforeEach, describe, expect, it } from "vitest";
import { resetStaleCache, staleCounts, staleKV } from "../src/stalekv";
import { Store } from "../src/store";
import type { QueueData } from "../src/types";
import { newProjectId, T0, testEnv } from "./helpers";

describe("stale KV reads (local stack only)", () => {
  beforeEach(() => resetStaleCache());

  it("serves a version once read for N seconds whatever others write, then the store's; own writes at once", async () => {
    let now = 1_000_000;
    const kv = staleKV("NIMBUS_STATUS", testEnv.NIMBUS_STATUS, 5, () => now);
    const key = `status:${newProjectId()}:page_000000000001`;
    // a missing key is cached as missing
    expect(await kv.get(key, "text")).toBeNull();
    await testEnv.NIMBUS_STATUS.put(key, "v1", { metadata: { h: "1" } }); // another location (a desktop)
    now += 4999;
    expect(await kv.get(key, "text")).toBeNull();
    now += 1; // the entry is 5 s old: the next read takes the store's version
    expect(await kv.getWithMetadata(key, "text")).toMatchObject({ value: "v1", metadata: { h: "1" } });
    await testEnv.NIMBUS_STATUS.put(key, "v2", { metadata: { h: "2" } });
    now += 3000;
    expect(await kv.getWithMetadata(key, "text")).toMatchObject({ value: "v1", metadata: { h: "1" } });
    expect(staleCounts.stale).toBeGreaterThanOrEqual(2);
    now += 2000;
    expect(await kv.get(key, "text")).toBe("v2");
    // what this location writes it reads back at once
    await kv.put(key, "v3", { metadata: { h: "3" } });
    expect(await kv.getWithMetadata(key, "text")).toMatchObject({ value: "v3", metadata: { h: "3" } });
    expect(await testEnv.NIMBUS_STATUS.get(key)).toBe("v3");
  });

  it("caches listings apart from values", async () => {
    let now = 2_000_000;
    const kv = staleKV("NIMBUS_QUEUE", testEnv.NIMBUS_QUEUE, 5, () => now);
    const pid = newProjectId();
    const first = await kv.list({ prefix: `queue:${pid}` });
    expect(first.keys).toEqual([]);
    await testEnv.NIMBUS_QUEUE.put(`queue:${pid}`, "{}");
    expect((await kv.list({ prefix: `queue:${pid}` })).keys).toEqual([]);
    expect(await kv.get(`queue:${pid}`, "text")).toBe("{}"); // the value was never read: fresh
    now += 5000;
    expect((await kv.list({ prefix: `queue:${pid}` })).keys.map((k) => k.name)).toEqual([`queue:${pid}`]);
  });

  it("the Store reads through it when KV_STALE_SECONDS is set, and keeps its read-merge-write", async () => {
    const pid = newProjectId();
    const key = `queue:${pid}`;
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0", KV_STALE_SECONDS: "60" });
    const empty: QueueData = { items: [], last_processed: T0 };
    await store.put<QueueData>(key, empty);
    // a desktop appends an item (the REST API: not this location)
    const item = { page_id: "page_000000000001", batch_id: "batch_20261126_120000", priority: 5, queued_at: T0, attempts: 0 };
    await testEnv.NIMBUS_QUEUE.put(key, JSON.stringify({ items: [item], last_processed: T0 }));
    expect((await store.get<QueueData>(key))!.items).toEqual([]); // stale: this location wrote the empty queue
    const before = staleCounts.stale;
    expect(before).toBeGreaterThanOrEqual(1);
    // Without it, the same Store setup reads the store.
    const fresh = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    expect((await fresh.get<QueueData>(key))!.items).toEqual([item]);
    expect(staleCounts.stale).toBe(before);
  });
});
