// The Nimbus Worker: drains NIMBUS_QUEUE on a cron (processor.ts), serves the
// read API (api.ts), and offers POST /__process for tests and the local
// stack, enabled only when the PROCESS_SECRET secret is set.

import { handleAPI, json, jsonError } from "./api";
import { accountStub, projectStub, type Counters } from "./coordinator";
import { intVar, type Env, type PageMessage } from "./env";
import { consume, deadLetter, dispatch, fanoutEnabled } from "./fanout";
import { runProcessor } from "./processor";
import { staleCounts } from "./stalekv";
import { Store } from "./store";
import type { QueueData } from "./types";

export { AccountCoordinator, ProjectCoordinator } from "./coordinator";

/**
 * POST /__process with FANOUT=queues: one cron run (dispatch), then, for
 * tests and the local stack, waiting up to `waitMs` until every message it
 * (or an earlier run) sent has an outcome and the outcomes are folded into
 * KV. The report keeps the old processor's per-project fields (done,
 * failed, retried, remaining, errors) so drivers need not care which path
 * ran, and adds the dispatch and the invocations' KV operation counts.
 */
async function processAndWait(env: Env, project: string | undefined, waitMs: number) {
  const before = new Map<string, Counters>();
  const pids = project ? [project] : null;
  if (pids) for (const p of pids) before.set(p, (await projectStub(env, p).progress(Date.now())).counters);
  const d = await dispatch(env, { project });
  const ids = pids ?? d.projects.map((p) => p.project_id);
  // Without ?project the projects are known after the dispatch: counted from then.
  if (!pids) for (const p of ids) before.set(p, (await projectStub(env, p).progress(Date.now())).counters);
  const deadline = Date.now() + waitMs;
  const last = new Map<string, Awaited<ReturnType<ReturnType<typeof projectStub>["progress"]>>>();
  for (const p of ids) {
    for (;;) {
      const pr = await projectStub(env, p).progress(Date.now());
      last.set(p, pr);
      if ((pr.outstanding === 0 && pr.unfolded === 0) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const store = new Store(env);
  const projects = [];
  for (const p of ids) {
    const b = before.get(p)!;
    const c = last.get(p)!.counters;
    const q = await store.get<QueueData>(`queue:${p}`);
    const dp = d.projects.find((x) => x.project_id === p);
    projects.push({
      project_id: p,
      picked: dp?.sent ?? 0,
      leased: dp?.busy ?? 0,
      done: c.done - b.done,
      failed: c.failed - b.failed,
      superseded: c.superseded - b.superseded,
      retried: c.retried - b.retried,
      deferred: c.deferred - b.deferred,
      duplicates: c.duplicates - b.duplicates,
      outstanding: last.get(p)!.outstanding,
      remaining: q?.items?.length ?? 0,
      errors: [] as string[],
    });
  }
  const acct = await accountStub(env).report();
  return { mode: "queues", dispatch: d, projects, kv: d.kv, invocations: acct.invocations, ai_requests: acct.ai_requests };
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

export default {
  async fetch(req: Request, env: Env, _ctx: ExecutionContext): Promise<Response> {
    const url = new URL(req.url);
    try {
      if (url.pathname === "/health") return json(200, { ok: true });
      if (url.pathname === "/__process") {
        if (!env.PROCESS_SECRET) return jsonError(404, "not_found", "no route /__process");
        if (req.method !== "POST") return jsonError(405, "method_not_allowed", "POST /__process");
        const given = req.headers.get("x-nimbus-process-secret") ?? "";
        if (!timingSafeEqual(given, env.PROCESS_SECRET)) return jsonError(403, "forbidden", "bad X-Nimbus-Process-Secret");
        const project = url.searchParams.get("project") ?? undefined;
        if (fanoutEnabled(env)) return json(200, await processAndWait(env, project, intVar(url.searchParams.get("wait") ?? undefined, 20000)));
        return json(200, await runProcessor(env, { project }));
      }
      if (url.pathname === "/__stats") {
        if (!env.PROCESS_SECRET) return jsonError(404, "not_found", "no route /__stats");
        const given = req.headers.get("x-nimbus-process-secret") ?? "";
        if (!timingSafeEqual(given, env.PROCESS_SECRET)) return jsonError(403, "forbidden", "bad X-Nimbus-Process-Secret");
        // kv_stale: what the stale-read cache of this isolate did (local stack, KV_STALE_SECONDS).
        return json(200, { ...(await accountStub(env).report()), kv_stale: { ...staleCounts } });
      }
      return await handleAPI(req, env);
    } catch (e) {
      console.error(JSON.stringify({ msg: "request failed", path: url.pathname, error: String(e) }));
      return jsonError(500, "internal", (e as Error).message ?? String(e));
    }
  },

  async queue(batch: MessageBatch<PageMessage>, env: Env, _ctx: ExecutionContext): Promise<void> {
    if (batch.queue.endsWith("-dlq")) await deadLetter(batch, env);
    else await consume(batch, env);
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    if (fanoutEnabled(env)) {
      const d = dispatch(env).then((r) => {
        console.log(JSON.stringify({ msg: "dispatched", granted: r.granted, sent: r.sent, kv: r.kv, queue_sends: r.queue_sends, projects: r.projects }));
      });
      ctx.waitUntil(d);
      await d;
      return;
    }
    const run = runProcessor(env).then((r) => {
      for (const p of r.projects) {
        console.log(
          JSON.stringify({
            msg: "processed",
            project: p.project_id,
            picked: p.picked,
            done: p.done,
            failed: p.failed,
            retried: p.retried,
            remaining: p.remaining,
            errors: p.errors.length,
          }),
        );
      }
    });
    ctx.waitUntil(run);
    await run;
  },
} satisfies ExportedHandler<Env, PageMessage>;
