import { describe, expect, it } from "vitest";
import { canonical, goString } from "../src/canonical";
import { mergeValue } from "../src/merge";

describe("canonical JSON (Go encoding/json bytes)", () => {
  it("orders fields as the Go structs, drops empty omitempty fields and unknown fields", () => {
    const s = canonical("status:proj_000000000001:page_000000000001", {
      updated: "2026-11-26T12:00:00.000Z",
      extra: 1,
      batch_id: "batch_20261126_120000",
      status: "done",
      result: { success: true, completed: "2026-11-26T12:00:00.000Z", changes: 0, confidence: 0.95 },
    });
    expect(s).toBe(
      '{"status":"done","batch_id":"batch_20261126_120000","updated":"2026-11-26T12:00:00.000Z",' +
        '"result":{"completed":"2026-11-26T12:00:00.000Z","success":true,"changes":0,"confidence":0.95}}',
    );
  });
  it("escapes like Go (<, >, & and line separators) and sorts map keys", () => {
    expect(goString("a<b>&c\u2028")).toBe('"a\\u003cb\\u003e\\u0026c\\u2028"');
    const s = canonical("page:p:q", { extraction: { head: { z: "1", a: "2" } } });
    expect(s).toContain('"head":{"a":"2","z":"1"}');
    // nil slices and maps of non-omitempty fields are null, as in Go
    expect(s).toContain('"above_fold_blocks":null');
  });
  it("mergeValue returns canonical bytes that are a fixpoint", () => {
    const a = JSON.stringify({ items: [{ page_id: "page_1", batch_id: "b", priority: 5, queued_at: "2026-01-01T00:00:00.000Z", attempts: 1 }], last_processed: "" });
    const m = mergeValue("queue:p", a, a);
    expect(mergeValue("queue:p", m, m)).toBe(m);
  });
});
