import { describe, expect, it } from "vitest";
import { sha256Hex } from "../src/canonical";
import { Store, updatedOf } from "../src/store";
import type { BatchData, StatusData } from "../src/types";
import { BATCH, getJSON, newProjectId, pageIdOf, put, T0, testEnv } from "./helpers";

describe("store: read-merge-write", () => {
  it("serialises concurrent writes to one key so no page entry is lost", async () => {
    const pid = newProjectId();
    const key = `batch:${pid}:${BATCH}`;
    const base: BatchData = {
      batch_id: BATCH,
      project_id: pid,
      created: T0,
      page_count: 20,
      status: "queued",
      pages: {},
      summary: { completed: 0, failed: 0, pending: 0, average_time_ms: 0 },
    };
    await put(testEnv.NIMBUS_BATCHES, key, base);
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.put<BatchData>(key, {
          ...base,
          pages: { [pageIdOf(i)]: { status: "done", uploaded: T0, started: T0, completed: "2026-11-26T12:00:01.000Z" } },
        }),
      ),
    );
    const b = (await getJSON<BatchData>(testEnv.NIMBUS_BATCHES, key))!;
    expect(Object.keys(b.pages!).length).toBe(20);
    expect(b.summary).toEqual({ completed: 20, failed: 0, pending: 0, average_time_ms: 1000 });
    expect(b.status).toBe("completed");
  });

  it("merges with the stored value (a newer desktop batch wins over a stale Worker write) and skips unchanged writes", async () => {
    const pid = newProjectId();
    const key = `status:${pid}:${pageIdOf(1)}`;
    await put(testEnv.NIMBUS_STATUS, key, { status: "queued", batch_id: "batch_20261127_000000", updated: T0 });
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    const merged = await store.put<StatusData>(key, { status: "done", batch_id: BATCH, updated: T0 });
    expect(merged).toEqual({ status: "queued", batch_id: "batch_20261127_000000", updated: T0 });
    expect(store.ops.skipped).toBe(1);
    expect(store.ops.writes).toBe(0);
  });

  it("writes h = sha256 of the stored bytes, u = the record's stamp, s = status", async () => {
    const pid = newProjectId();
    const key = `status:${pid}:${pageIdOf(2)}`;
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    await store.put<StatusData>(key, { status: "processing", batch_id: BATCH, updated: "2026-11-26T12:00:05.000Z", processing: { started: T0, current_step: "ai_optimization", progress: 30 } });
    const r = await testEnv.NIMBUS_STATUS.getWithMetadata<{ h: string; u: string; s: string }>(key);
    expect(r.metadata).toEqual({ h: await sha256Hex(r.value!), u: "2026-11-26T12:00:05.000Z", s: "processing" });
    expect(updatedOf("logs", { entries: [{ timestamp: "b" }, { timestamp: "a" }] })).toBe("b");
  });

  it("spaces writes to one key by KV_MIN_WRITE_INTERVAL_MS (KV allows ~1 write/s per key)", async () => {
    const pid = newProjectId();
    const key = `status:${pid}:${pageIdOf(3)}`;
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "300" });
    const t0 = Date.now();
    await store.put<StatusData>(key, { status: "processing", batch_id: BATCH, updated: "2026-11-26T12:00:01.000Z" });
    await store.put<StatusData>(key, { status: "done", batch_id: BATCH, updated: "2026-11-26T12:00:02.000Z" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(store.ops.writes).toBe(2);
  });

  it("refuses to overwrite a stored value that is not JSON, naming the key", async () => {
    const pid = newProjectId();
    const key = `status:${pid}:${pageIdOf(4)}`;
    await testEnv.NIMBUS_STATUS.put(key, "{broken");
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    await expect(store.put<StatusData>(key, { status: "done", batch_id: BATCH, updated: T0 })).rejects.toThrow(key);
    expect(await testEnv.NIMBUS_STATUS.get(key)).toBe("{broken");
  });
});
