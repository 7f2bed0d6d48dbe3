// Runs the validation vectors shared with the Go model
// (../testdata/validate/*.json, also run by `go test ./model -run
// TestValidateVectors`): what the Worker writes passes the same rules on
// both sides. And the Store refuses to write a record that fails them.
import { describe, expect, it } from "vitest";
import { RecordError, Store } from "../src/store";
import { validateRecord } from "../src/validate";
import type { StatusData } from "../src/types";
import { testEnv } from "./helpers";

interface VectorFile {
  cases: { name: string; key: string; value: unknown; problems: string[] }[];
}

const files = import.meta.glob<VectorFile>("../../testdata/validate/*.json", { eager: true, import: "default" });

describe("validation vectors", () => {
  it("finds the shared vector files", () => {
    expect(Object.keys(files).length).toBeGreaterThan(0);
  });
  for (const [path, file] of Object.entries(files)) {
    describe(path.replace(/^.*\//, ""), () => {
      for (const c of file.cases) {
        it(c.name, () => {
          const got = validateRecord(c.key, c.value);
          if (c.problems.length === 0) expect(got).toEqual([]);
          else for (const p of c.problems) expect(got.join("; ")).toContain(p);
        });
      }
    });
  }
});

describe("validate before storing", () => {
  it("the Store refuses to write an invalid record and leaves the stored one alone", async () => {
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    const key = "status:proj_00000000beef:page_00000000beef";
    const ok: StatusData = { status: "queued", batch_id: "batch_20240902_100000", updated: "2024-09-02T10:00:00.000Z" };
    await store.put(key, ok);
    const bad = { ...ok, status: "processing", updated: "2024-09-02T10:01:00.000Z", processing: { started: "soon", current_step: "x", progress: 30 } } as StatusData;
    await expect(store.put(key, bad)).rejects.toThrow(RecordError);
    await expect(store.put(key, bad)).rejects.toThrow(/processing.started: "soon" is not an ISO 8601 timestamp/);
    expect(JSON.parse((await testEnv.NIMBUS_STATUS.get(key, "text"))!).status).toBe("queued");
    await expect(store.putFresh("cache:" + "b".repeat(64), { data: {}, created: "x", expires: "y", type: "ai_response" })).rejects.toThrow(RecordError);
  });
});
