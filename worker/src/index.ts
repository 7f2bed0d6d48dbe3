// The Nimbus Worker: drains NIMBUS_QUEUE on a cron (processor.ts), serves the
// read API (api.ts), and offers POST /__process for tests and the local
// stack, enabled only when the PROCESS_SECRET secret is set.

import { handleAPI, json, jsonError } from "./api";
import type { Env } from "./env";
import { runProcessor } from "./processor";

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
        return json(200, await runProcessor(env, { project }));
      }
      return await handleAPI(req, env);
    } catch (e) {
      console.error(JSON.stringify({ msg: "request failed", path: url.pathname, error: String(e) }));
      return jsonError(500, "internal", (e as Error).message ?? String(e));
    }
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
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
} satisfies ExportedHandler<Env>;
