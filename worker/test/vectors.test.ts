// Runs every case of the repository's shared merge vectors
// (../testdata/merge/*.json, also run by the Go tests) in both orders, plus
// idempotence. New vector files are picked up automatically: Vite's
// import.meta.glob expands the pattern when the test is built.
import { describe, expect, it } from "vitest";
import { kindOf } from "../src/canonical";
import { mergeKind } from "../src/merge";

interface VectorFile {
  kind: string;
  cases: { name: string; a: unknown; b: unknown; expected: unknown }[];
}

const files = import.meta.glob<VectorFile>("../../testdata/merge/*.json", { eager: true, import: "default" });

/** Drops absent/empty optional fields the way the Go side's omitempty does, for comparison. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p === null || p === undefined || p === "" || p === 0 || p === false) continue;
      if (Array.isArray(p) && p.length === 0) continue;
      if (typeof p === "object" && !Array.isArray(p) && Object.keys(p as object).length === 0) continue;
      out[k] = p;
    }
    return out;
  }
  return v;
}

describe("merge vectors", () => {
  it("finds the shared vector files", () => {
    expect(Object.keys(files).length, "no files matched ../../testdata/merge/*.json").toBeGreaterThan(0);
  });
  for (const [path, file] of Object.entries(files)) {
    describe(path.replace(/^.*\//, ""), () => {
      it("has a kind and cases", () => {
        expect(typeof file.kind).toBe("string");
        expect(file.cases.length).toBeGreaterThan(0);
      });
      for (const c of file.cases ?? []) {
        it(`${file.kind}: ${c.name}`, () => {
          const kind = kindOf(file.kind);
          const ab = mergeKind(kind, c.a, c.b);
          const ba = mergeKind(kind, c.b, c.a);
          expect(prune(ab), "merge(a, b)").toEqual(prune(c.expected));
          expect(prune(ba), "merge(b, a)").toEqual(prune(c.expected));
          expect(prune(mergeKind(kind, ab, ab)), "idempotent").toEqual(prune(ab));
        });
      }
    });
  }
});
