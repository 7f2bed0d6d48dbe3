import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import { isCopy, runProcessor } from "../src/processor";
import { KVLimitError, Store } from "../src/store";
import { localRewrite } from "../src/provider/local";
import { ProcessError, type OptimizeRequest, type Provider } from "../src/provider/types";
import type { BatchData, LogData, PageData, QueueData, StatusData } from "../src/types";
import { BATCH, getJSON, page, pageIdOf, put, seedProject, T0, testEnv } from "./helpers";

/** A provider that records calls and can fail or stall on demand. */
class ScriptedProvider implements Provider {
  readonly name = "scripted";
  calls: OptimizeRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly behave: (req: OptimizeRequest, n: number) => Promise<unknown> | unknown = (req) => ({
      blocks: req.blocks.map((b) => ({ id: b.id, text: localRewrite(b.content, b.type, req.tone), confidence: 0.9 })),
    }),
    private readonly delayMs = 0,
  ) {}
  async optimize(req: OptimizeRequest): Promise<unknown> {
    this.calls.push(req);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return await this.behave(req, this.calls.length);
    } finally {
      this.inFlight--;
    }
  }
}

const env: Env = testEnv;

async function status(pid: string, pageId: string) {
  return (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${pageId}`))!;
}

describe("processor", () => {
  it("processes a page end to end: status, optimization, batch summary, logs, queue pruned, KV metadata", async () => {
    const p1 = pageIdOf(1);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["Rolex repair", "We offer good service.", "Call 0121 496 0000"] }] });
    const prov = new ScriptedProvider();
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ picked: 1, done: 1, failed: 0, remaining: 0, pruned: 1 });

    const st = await status(pid, p1);
    expect(st.status).toBe("done");
    expect(st.result).toMatchObject({ success: true, changes: 2 });
    const pg = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${p1}`))!;
    expect(pg.optimization).toMatchObject({ model: "gpt-test", changes: 2, source_hash: "a".repeat(64) });
    expect(pg.optimization!.optimized_blocks!.map((b) => b.id)).toEqual(["block-1", "block-2"]);
    expect(pg.optimization!.optimized_blocks![0].optimized_content).toBe("Our specialists offer exceptional bespoke service.");
    // the extraction is untouched
    expect(pg.extraction.rest_of_page_blocks![0].content).toBe("We offer good service.");

    const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
    expect(b.status).toBe("completed");
    expect(b.pages![p1]).toMatchObject({ status: "done", uploaded: T0 });
    expect(b.pages![p1].started).toBeTruthy();
    expect(b.summary).toMatchObject({ completed: 1, failed: 0, pending: 0 });
    expect(b.summary.average_time_ms).toBe(Date.parse(b.pages![p1].completed!) - Date.parse(b.pages![p1].started!));

    const logs = (await getJSON<LogData>(env.NIMBUS_LOGS, `logs:${pid}:${p1}`))!;
    expect(logs.entries!.some((e) => e.step === "done" && typeof e.duration_ms === "number")).toBe(true);
    const q = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
    expect(q.items).toEqual([]);
    expect(q.last_processed).toBeTruthy();

    // metadata: h is the sha256 of exactly the bytes stored, s the status
    for (const [ns, key] of [
      [env.NIMBUS_STATUS, `status:${pid}:${p1}`],
      [env.NIMBUS_PAGES, `page:${pid}:${p1}`],
      [env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`],
      [env.NIMBUS_QUEUE, `queue:${pid}`],
      [env.NIMBUS_LOGS, `logs:${pid}:${p1}`],
    ] as const) {
      const r = await ns.getWithMetadata<{ h: string; u: string; s?: string }>(key, "arrayBuffer");
      const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", r.value!))]
        .map((x) => x.toString(16).padStart(2, "0"))
        .join("");
      expect(r.metadata?.h, key).toBe(digest);
      expect(r.metadata?.u, key).toBeTruthy();
    }
    const sm = await env.NIMBUS_STATUS.getWithMetadata<{ s: string }>(`status:${pid}:${p1}`);
    expect(sm.metadata?.s).toBe("done");
  });

  it("takes items by priority (10 first), then age, and respects MAX_PAGES_PER_RUN", async () => {
    const pid = await seedProject({
      settings: { default_concurrency: 1 },
      pages: [
        { id: pageIdOf(1), texts: ["a"], priority: 1, queued_at: "2026-11-26T12:00:01.000Z" },
        { id: pageIdOf(2), texts: ["b"], priority: 10, queued_at: "2026-11-26T12:00:05.000Z" },
        { id: pageIdOf(3), texts: ["c"], priority: 5, queued_at: "2026-11-26T12:00:02.000Z" },
        { id: pageIdOf(4), texts: ["d"], priority: 10, queued_at: "2026-11-26T12:00:03.000Z" },
        { id: pageIdOf(5), texts: ["e"], priority: 5, queued_at: "2026-11-26T12:00:01.000Z" },
      ],
    });
    const rep = await runProcessor({ ...env, MAX_PAGES_PER_RUN: "3" }, { project: pid, provider: new ScriptedProvider() });
    expect(rep.projects[0].order).toEqual([pageIdOf(4), pageIdOf(2), pageIdOf(5)]);
    expect(rep.projects[0].remaining).toBe(2);
    const rep2 = await runProcessor(env, { project: pid, provider: new ScriptedProvider() });
    expect(rep2.projects[0].order).toEqual([pageIdOf(3), pageIdOf(1)]);
    expect(rep2.projects[0].remaining).toBe(0);
  });

  it("a batch processed a few pages at a time reads processing until its last page is terminal; its summary always equals its entries", async () => {
    const n = 111;
    const pages = Array.from({ length: n }, (_, i) => ({ id: pageIdOf(2000 + i), texts: [`Heading ${i}`, `Some copy for page ${i}.`] }));
    // every 7th page fails for good (a 4xx), so the batch ends with both kinds
    const prov = new ScriptedProvider((req) => {
      if (Number(req.blocks[0].content.split(" ")[1]) % 7 === 3) throw new ProcessError("AI_ERROR", "AI API: HTTP 400: refused", false);
      return { blocks: req.blocks.map((b) => ({ id: b.id, text: localRewrite(b.content, b.type, req.tone), confidence: 0.9 })) };
    });
    const pid = await seedProject({ settings: { default_concurrency: 5 }, pages });
    const seen: string[] = [];
    for (let run = 0; run < 20; run++) {
      const rep = await runProcessor({ ...env, MAX_PAGES_PER_RUN: "25" }, { project: pid, provider: prov });
      const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
      const entries = Object.values(b.pages ?? {});
      expect(entries).toHaveLength(n);
      const count = (f: (s: string) => boolean) => entries.filter((e) => f(e.status)).length;
      const done = count((s) => s === "done");
      const failed = count((s) => s === "failed");
      expect(b.summary).toMatchObject({ completed: done, failed, pending: n - done - failed });
      seen.push(`${b.status} ${done + failed}/${n}`);
      if (rep.projects[0].remaining === 0) {
        expect(done + failed).toBe(n);
        expect(b.status).toBe("completed");
        break;
      }
      expect(done + failed).toBeLessThan(n);
      expect(b.status, `after run ${run}: ${seen.join(", ")}`).toBe("processing");
    }
    expect(seen.at(-1)).toBe(`completed ${n}/${n}`);
    expect(seen.length).toBeGreaterThanOrEqual(5);
  });

  it("reports honestly: every suggestion rejected is no success; a failed AI call is counted", async () => {
    const p1 = pageIdOf(3001);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["Heading", "Some copy."] }] });
    const empty = new ScriptedProvider((req) => ({ blocks: req.blocks.map((b) => ({ id: b.id, text: "" })) }));
    const rep = await runProcessor(env, { project: pid, provider: empty });
    expect(rep.projects[0]).toMatchObject({ done: 1, ai_calls: 1 });
    expect((await status(pid, p1)).result).toMatchObject({ success: false, changes: 0, confidence: 0 });

    const p2 = pageIdOf(3002);
    const pid2 = await seedProject({ pages: [{ id: p2, texts: ["Other heading", "Other copy."] }] });
    const refusing = new ScriptedProvider(() => {
      throw new ProcessError("AI_ERROR", "AI API: HTTP 400: bad request", false);
    });
    const rep2 = await runProcessor(env, { project: pid2, provider: refusing });
    expect(rep2.projects[0]).toMatchObject({ failed: 1, ai_calls: 1 });
  });

  it("does not send blocks that are not copy: number cells, phone-number buttons", () => {
    const b = (type: string, content: string) => ({ id: "block-0", type, content });
    expect(isCopy(b("td", "£149"))).toBe(false);
    expect(isCopy(b("td", "5 days"))).toBe(false);
    expect(isCopy(b("th", "2024"))).toBe(false);
    expect(isCopy(b("button", "Call 0121 496 0000"))).toBe(false);
    expect(isCopy(b("a", "+44 121 496 0000"))).toBe(false);
    expect(isCopy(b("p", "12:30"))).toBe(false);
    expect(isCopy(b("td", "Full service with pressure test"))).toBe(true);
    expect(isCopy(b("button", "Get a free quote"))).toBe(true);
    expect(isCopy(b("p", "Call us on 0121 496 0000 for a free quote today."))).toBe(true);
  });

  it("stays within the KV operations of one invocation: pages that would not fit wait for the next run", async () => {
    const n = 30;
    const pages = Array.from({ length: n }, (_, i) => ({ id: pageIdOf(4000 + i), texts: [`Budget heading ${i}`, `Budget copy ${i}.`, `More copy ${i}.`] }));
    const pid = await seedProject({ settings: { default_concurrency: 3 }, pages });
    const limited = { ...env, KV_OPS_LIMIT: "300", MAX_PAGES_PER_RUN: "100", KV_MIN_WRITE_INTERVAL_MS: "0" };
    let done = 0;
    let runs = 0;
    let deferredSeen = false;
    for (; runs < 20 && done < n; runs++) {
      const rep = await runProcessor(limited, { project: pid, provider: new ScriptedProvider() });
      const p = rep.projects[0];
      // The Store refuses the 301st operation: a run over budget shows as
      // an error here (a count check could never fail).
      expect(p.errors).toEqual([]);
      if (p.deferred > 0 || p.remaining > 0) deferredSeen = true;
      done += p.done;
    }
    expect(done).toBe(n);
    expect(deferredSeen).toBe(true);
    expect(runs).toBeGreaterThan(1);
  });

  it("shares one invocation's budget between projects: a big queue does not starve a small one", async () => {
    const big = await seedProject({ pages: Array.from({ length: 40 }, (_, i) => ({ id: pageIdOf(5000 + i), texts: [`Big ${i}`, `Big copy ${i}.`] })) });
    const small = await seedProject({ pages: Array.from({ length: 3 }, (_, i) => ({ id: pageIdOf(5100 + i), texts: [`Small ${i}`, `Small copy ${i}.`] })) });
    const limited = { ...env, KV_OPS_LIMIT: "400", MAX_PAGES_PER_RUN: "100", KV_MIN_WRITE_INTERVAL_MS: "0" };
    const rep = await runProcessor(limited, { projects: [big, small], provider: new ScriptedProvider() });
    const byId = Object.fromEntries(rep.projects.map((p) => [p.project_id, p]));
    expect(byId[small]).toMatchObject({ done: 3, remaining: 0 });
    expect(byId[big].done).toBeGreaterThan(0);
    expect(byId[big].errors).toEqual([]);
    // drain the big one, so no queue is left for the tests after this one
    for (let i = 0; i < 20 && (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${big}`))!.items!.length > 0; i++) {
      await runProcessor(limited, { project: big, provider: new ScriptedProvider() });
    }
  });

  it("a small KV limit still makes progress (the free plan's 50 operations: a page at a time)", async () => {
    const tiny = await seedProject({ pages: [{ id: pageIdOf(5200), texts: ["Tiny", "Tiny copy."] }] });
    const rep = await runProcessor({ ...env, KV_OPS_LIMIT: "50", KV_MIN_WRITE_INTERVAL_MS: "0" }, { project: tiny, provider: new ScriptedProvider() });
    expect(rep.projects[0]).toMatchObject({ done: 1, remaining: 0 });
    expect(rep.projects[0].errors).toEqual([]);
  });

  it("the Store refuses the operation past the invocation's limit, as Cloudflare does", async () => {
    const store = new Store({ ...env, KV_OPS_LIMIT: "3" });
    await store.get("project:proj_00000000dead");
    await store.get("project:proj_00000000dead");
    await store.get("project:proj_00000000dead");
    await expect(store.get("project:proj_00000000dead")).rejects.toBeInstanceOf(KVLimitError);
  });

  it("keeps at most default_concurrency pages in flight", async () => {
    const pages = Array.from({ length: 9 }, (_, i) => ({ id: pageIdOf(100 + i), texts: [`text ${i}`] }));
    const pid = await seedProject({ settings: { default_concurrency: 3 }, pages });
    const prov = new ScriptedProvider(undefined, 30);
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0].done).toBe(9);
    expect(prov.maxInFlight).toBe(3);
    expect(rep.projects[0].max_in_flight).toBe(3);
  });

  it("retries failures and fails the page with a code after 3 attempts; other pages are unaffected", async () => {
    const bad = pageIdOf(7);
    const good = pageIdOf(8);
    const pid = await seedProject({ pages: [{ id: bad, texts: ["boom"] }, { id: good, texts: ["fine good"] }] });
    const prov = new ScriptedProvider((req) => {
      if (req.blocks.some((b) => b.content === "boom")) throw new ProcessError("AI_TIMEOUT", "no answer within 10 ms");
      return { blocks: req.blocks.map((b) => ({ id: b.id, text: b.content + "!", confidence: 0.7 })) };
    });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const rep = await runProcessor(env, { project: pid, provider: prov });
      expect(rep.projects[0].retried, `run ${attempt}`).toBe(1);
      const q = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
      expect(q.items).toEqual([expect.objectContaining({ page_id: bad, attempts: attempt })]);
      const st = await status(pid, bad);
      expect(st).toMatchObject({ status: "processing", processing: { current_step: "retry_wait" } });
    }
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ failed: 1, remaining: 0 });
    const st = await status(pid, bad);
    expect(st.status).toBe("failed");
    expect(st.error).toMatchObject({ code: "AI_TIMEOUT" });
    expect((await status(pid, good)).status).toBe("done");
    const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
    expect(b.pages![bad]).toMatchObject({ status: "failed" });
    expect(b.pages![bad].error).toContain("AI_TIMEOUT");
    expect(b.summary).toMatchObject({ completed: 1, failed: 1, pending: 0 });
    expect(b.status).toBe("completed");
    const logs = (await getJSON<LogData>(env.NIMBUS_LOGS, `logs:${pid}:${bad}`))!;
    expect(logs.entries!.filter((e) => e.level === "warn" && e.message.includes("failed")).length).toBe(2);
    expect(logs.entries!.some((e) => e.level === "error" && e.message.includes("AI_TIMEOUT"))).toBe(true);
  });

  it("skips a page whose content changed since it was queued as superseded, without an AI call", async () => {
    const p1 = pageIdOf(21);
    const p2 = pageIdOf(22);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["old"] }, { id: p2, texts: ["same"] }] });
    // the editor rebuilt the site: the page was re-uploaded with new content after it was queued
    await put(env.NIMBUS_PAGES, `page:${pid}:${p1}`, page(pid, p1, ["new"], { uploaded: "2026-11-26T13:00:00.000Z", content_hash: "b".repeat(64) }));
    const prov = new ScriptedProvider();
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ superseded: 1, done: 1, remaining: 0 });
    expect(prov.calls.flatMap((c) => c.blocks.map((b) => b.content))).toEqual(["same"]);
    const st = await status(pid, p1);
    expect(st).toMatchObject({ status: "failed", error: { code: "SUPERSEDED" } });
    const pg = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${p1}`))!;
    expect(pg.optimization).toBeUndefined();
  });

  it("serves repeated block text from NIMBUS_CACHE (cache hits, no second AI call)", async () => {
    const shared = ["Watch repair in Leeds", "We offer good service since 1990."];
    const pid = await seedProject({
      settings: { default_concurrency: 1 },
      pages: [
        { id: pageIdOf(31), texts: shared, queued_at: "2026-11-26T12:00:00.000Z" },
        { id: pageIdOf(32), texts: shared, queued_at: "2026-11-26T12:00:01.000Z" },
      ],
    });
    const prov = new ScriptedProvider();
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ done: 2, ai_calls: 1, cache_hits: 2 });
    expect(prov.calls.length).toBe(1);
    const a = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${pageIdOf(31)}`))!.optimization!;
    const b = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${pageIdOf(32)}`))!.optimization!;
    expect(b.optimized_blocks).toEqual(a.optimized_blocks);
    const list = await env.NIMBUS_CACHE.list({ prefix: "cache:" });
    expect(list.keys.length).toBeGreaterThanOrEqual(2);
    const c = (await getJSON<{ type: string; expires: string; created: string }>(env.NIMBUS_CACHE, list.keys[0].name))!;
    expect(c.type).toBe("ai_response");
    expect(Date.parse(c.expires)).toBeGreaterThan(Date.parse(c.created));
  });

  it("prunes items whose status is already terminal for their batch and merges the desktop's concurrent appends", async () => {
    const p1 = pageIdOf(41);
    const p2 = pageIdOf(42);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["x"] }, { id: p2, texts: ["y"] }] });
    await put(env.NIMBUS_STATUS, `status:${pid}:${p1}`, { status: "done", batch_id: BATCH, updated: T0 });
    const prov = new ScriptedProvider(async (req) => {
      // meanwhile a desktop appends an item for a later batch
      await put(env.NIMBUS_QUEUE, `queue:${pid}`, {
        items: [
          { page_id: p1, batch_id: BATCH, priority: 5, queued_at: T0, attempts: 0 },
          { page_id: p2, batch_id: BATCH, priority: 5, queued_at: T0, attempts: 0 },
          { page_id: p1, batch_id: "batch_20261126_130000", priority: 5, queued_at: T0, attempts: 0 },
        ],
        last_processed: "",
      });
      return { blocks: req.blocks.map((b) => ({ id: b.id, text: b.content + ".", confidence: 1 })) };
    });
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ picked: 1, done: 1 });
    const q = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
    expect(q.items!.map((i) => [i.batch_id, i.page_id])).toEqual([["batch_20261126_130000", p1]]);
  });

  it("runs from the cron handler over every project with a queue, using the configured local provider", async () => {
    const pid = await seedProject({ pages: [{ id: pageIdOf(51), texts: ["good watches"] }] });
    const worker = (await import("../src/index")).default;
    const { createExecutionContext, createScheduledController, waitOnExecutionContext } = await import("cloudflare:test");
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const st = await status(pid, pageIdOf(51));
    expect(st.status).toBe("done");
    const pg = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${pageIdOf(51)}`))!;
    expect(pg.optimization!.optimized_blocks![0].optimized_content).toBe("exceptional watches");
  });
});

describe("processor edge cases", () => {
  it("skips a page another invocation is actively processing (lease), and picks it after the lease", async () => {
    const p1 = pageIdOf(61);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["x"] }] });
    const now = new Date("2026-11-26T12:10:00.000Z");
    await put(env.NIMBUS_STATUS, `status:${pid}:${p1}`, {
      status: "processing",
      batch_id: BATCH,
      updated: "2026-11-26T12:09:30.000Z",
      processing: { started: "2026-11-26T12:09:30.000Z", current_step: "ai_optimization", progress: 30 },
    });
    const rep = await runProcessor(env, { project: pid, provider: new ScriptedProvider(), now: () => now });
    expect(rep.projects[0]).toMatchObject({ picked: 0, leased: 1, remaining: 1 });
    const later = new Date("2026-11-26T12:12:00.000Z");
    const rep2 = await runProcessor(env, { project: pid, provider: new ScriptedProvider(), now: () => later });
    expect(rep2.projects[0]).toMatchObject({ picked: 1, done: 1, remaining: 0 });
  });

  it("retries a page that is not in KV yet (PAGE_MISSING) and supersedes one resubmitted in a later batch", async () => {
    const missing = pageIdOf(71);
    const moved = pageIdOf(72);
    const pid = await seedProject({ pages: [{ id: missing, texts: ["a"] }, { id: moved, texts: ["b"] }] });
    await env.NIMBUS_PAGES.delete(`page:${pid}:${missing}`); // test setup only: the page was never pushed
    await put(env.NIMBUS_PAGES, `page:${pid}:${moved}`, page(pid, moved, ["b"], { batch_id: "batch_20261126_130000" }));
    const prov = new ScriptedProvider();
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ retried: 1, superseded: 1, remaining: 1 });
    expect(prov.calls.length).toBe(0);
    const logs = (await getJSON<LogData>(env.NIMBUS_LOGS, `logs:${pid}:${missing}`))!;
    expect(logs.entries![0].message).toContain("PAGE_MISSING");
    expect((await status(pid, moved)).error?.code).toBe("SUPERSEDED");
  });

  it("keeps rejected suggestions out of the optimization and logs them", async () => {
    const p1 = pageIdOf(81);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["Title here", "Plain text", "More text"] }] });
    const prov = new ScriptedProvider((req) => ({
      blocks: req.blocks.map((b) => ({
        id: b.id,
        text: b.id === "block-1" ? "Plain <b>bold</b> text" : b.id === "block-2" ? "" : b.content + " now",
        confidence: 0.5,
      })),
    }));
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0].done).toBe(1);
    const pg = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${p1}`))!;
    expect(pg.optimization!.optimized_blocks!.map((b) => b.id)).toEqual(["block-0"]);
    expect(pg.optimization!.changes).toBe(1);
    const logs = (await getJSON<LogData>(env.NIMBUS_LOGS, `logs:${pid}:${p1}`))!;
    const warns = logs.entries!.filter((e) => e.level === "warn").map((e) => e.message);
    expect(warns).toEqual([
      "block block-1: suggestion rejected: markup where the original has none",
      "block block-2: suggestion rejected: empty text",
    ]);
  });

  it("optimizes the head's title and meta description as blocks with reserved ids, within their limits", async () => {
    const p1 = pageIdOf(82);
    const head = { title: "Rolex Repair in Birmingham | Timekeepers", metaDescription: "Rolex repair in Birmingham from £49." };
    const pid = await seedProject({ pages: [{ id: p1, texts: ["Rolex repair", "We repair Rolex watches."], head }] });
    const ninety = "Expert Rolex Repair and Servicing in Birmingham by Certified Watchmakers, Since 1982 Only!";
    expect([...ninety].length).toBe(90);
    const prov = new ScriptedProvider((req) => ({
      blocks: req.blocks.map((b) => ({
        id: b.id,
        text: b.type === "title" ? ninety : b.type === "meta_description" ? "Certified Rolex repair in Birmingham from £49." : b.content,
        confidence: 0.9,
      })),
    }));
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0].done).toBe(1);
    // Sent first, with their reserved ids and types, beside the copy.
    expect(prov.calls[0].blocks.map((b) => [b.id, b.type, b.content])).toEqual([
      ["head-title", "title", head.title],
      ["head-meta-description", "meta_description", head.metaDescription],
      ["block-0", "h1", "Rolex repair"],
      ["block-1", "p", "We repair Rolex watches."],
    ]);
    const pg = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${p1}`))!;
    // The 90-character title is refused (search results cut it off, and the
    // desktop's QA would block it); the description is kept, its content the original.
    expect(pg.optimization!.optimized_blocks).toEqual([
      { id: "head-meta-description", type: "meta_description", content: head.metaDescription, optimized_content: "Certified Rolex repair in Birmingham from £49." },
    ]);
    expect(pg.extraction.above_fold_blocks!.map((b) => b.id)).toEqual(["block-0"]); // the extraction is not changed
    const logs = (await getJSON<LogData>(env.NIMBUS_LOGS, `logs:${pid}:${p1}`))!;
    expect(logs.entries!.filter((e) => e.level === "warn").map((e) => e.message)).toEqual([
      "block head-title: suggestion rejected: 90 characters, over the 60 a title may have",
    ]);
    // The prompt states the limits.
    const { buildMessages } = await import("../src/provider/openai");
    const sys = buildMessages(prov.calls[0])[0].content;
    expect(sys).toMatch(/title within 60 characters/);
    expect(sys).toMatch(/meta description within 155 characters/);
  });

  it("fails at once on an error another attempt cannot fix", async () => {
    const p1 = pageIdOf(91);
    // unique text: a cached rewrite would not reach the provider
    const pid = await seedProject({ pages: [{ id: p1, texts: [`uncached ${Math.random()}`] }] });
    const prov = new ScriptedProvider(() => {
      throw new ProcessError("AI_ERROR", "AI API: HTTP 401: bad key", false);
    });
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ failed: 1, remaining: 0 });
    expect((await status(pid, p1)).error).toMatchObject({ code: "AI_ERROR" });
  });
});

describe("processor and write-back limits", () => {
  it("does not ask the AI for blocks whose element holds markup (the desktop could not write them back)", async () => {
    const p1 = pageIdOf(1);
    // texts no other test uses, so nothing comes from NIMBUS_CACHE
    const texts = ["Omega repair in Perth", "Free collection across Tayside.", "We restore vintage Omega dials."];
    const pid = await seedProject({ pages: [{ id: p1, texts }] });
    const pg = page(pid, p1, texts);
    pg.extraction.rest_of_page_blocks![0].attributes = { markup: "<a>" };
    await put(env.NIMBUS_PAGES, `page:${pid}:${p1}`, pg);
    const prov = new ScriptedProvider();
    const rep = await runProcessor(env, { project: pid, provider: prov });
    expect(rep.projects[0]).toMatchObject({ done: 1, failed: 0 });
    const asked = prov.calls.flatMap((c) => c.blocks.map((b) => b.id));
    expect(asked).toContain("block-0");
    expect(asked).toContain("block-2");
    expect(asked).not.toContain("block-1");
    const stored = (await getJSON<PageData>(env.NIMBUS_PAGES, `page:${pid}:${p1}`))!;
    expect(stored.optimization!.optimized_blocks!.map((b) => b.id)).not.toContain("block-1");
  });
});
