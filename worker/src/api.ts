// The HTTP API: requests authenticate with `Authorization: Bearer sk_live_…`;
// the key is looked up by its sha256 in NIMBUS_KEYS (apikey:sha256:<hex>),
// inactive keys are refused, and every authenticated request counts towards
// the key's usage (merged, so concurrent requests and the desktop's
// deactivation never lose each other). Errors are JSON: {"error":{code,message}}.

import { sha256Hex } from "./canonical";
import type { Env } from "./env";
import { Store } from "./store";
import type { BatchData, KeyData, ProjectData, StatusData } from "./types";

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

export function jsonError(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

const KEY_RE = /^sk_live_[0-9a-f]{32}$/;
const PROJECT_RE = /^proj_[0-9a-f]{12}$/;
const PAGE_RE = /^page_[0-9a-f]{12}$/;
const BATCH_RE = /^batch_[0-9]{8}_[0-9]{6}$/;

interface Authed {
  key: KeyData;
}

async function authenticate(req: Request, store: Store, now: Date): Promise<Authed | Response> {
  const h = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) return jsonError(401, "unauthorized", "missing Authorization: Bearer sk_live_... header");
  const token = m[1];
  if (!KEY_RE.test(token)) return jsonError(401, "unauthorized", "malformed API key (want sk_live_ + 32 hex)");
  const keyName = "apikey:sha256:" + (await sha256Hex(token));
  const key = await store.get<KeyData>(keyName);
  if (!key) return jsonError(401, "unauthorized", "unknown API key");
  if (!key.active) return jsonError(403, "key_inactive", "this API key has been deactivated");
  const ts = now.toISOString();
  const sameDay = (key.last_used ?? "").slice(0, 10) === ts.slice(0, 10);
  const usage = key.usage ?? { requests_today: 0, requests_total: 0 };
  let updated = key;
  try {
    updated = await store.put<KeyData>(keyName, {
      ...key,
      last_used: ts,
      usage: {
        requests_today: (sameDay ? usage.requests_today : 0) + 1,
        requests_total: usage.requests_total + 1,
      },
    });
  } catch (e) {
    // KV refuses more than about one write per second per key: counting is
    // best effort (the next request's merge catches up on the total), the
    // request itself is served. The key is never logged, only its hash.
    console.warn(JSON.stringify({ msg: "api: usage not counted", key: keyName, error: String(e) }));
  }
  // A deactivation that landed between the read and the merge still wins.
  if (!updated.active) return jsonError(403, "key_inactive", "this API key has been deactivated");
  return { key: updated };
}

/** The project if it exists and belongs to the key's user; else a 404 (no existence leak). */
async function ownedProject(store: Store, auth: Authed, projectId: string): Promise<ProjectData | Response> {
  if (!PROJECT_RE.test(projectId)) return jsonError(404, "not_found", `project ${projectId} not found`);
  const p = await store.get<ProjectData>(`project:${projectId}`);
  if (!p || p.user_id !== auth.key.user_id) return jsonError(404, "not_found", `project ${projectId} not found`);
  return p;
}

export async function handleAPI(req: Request, env: Env, now = new Date()): Promise<Response> {
  const url = new URL(req.url);
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== "v1") return jsonError(404, "not_found", `no route ${url.pathname}`);
  const batchRoute = parts.length === 5 && parts[1] === "projects" && parts[3] === "batches";
  const statusRoute = parts.length === 6 && parts[1] === "projects" && parts[3] === "pages" && parts[5] === "status";
  if (!batchRoute && !statusRoute) return jsonError(404, "not_found", `no route ${url.pathname}`);
  if (req.method !== "GET") return jsonError(405, "method_not_allowed", `${req.method} ${url.pathname}: only GET`);

  const store = new Store({ ...env, KV_MIN_WRITE_INTERVAL_MS: "0" });
  const auth = await authenticate(req, store, now);
  if (auth instanceof Response) return auth;
  const projectId = parts[2];
  const project = await ownedProject(store, auth, projectId);
  if (project instanceof Response) return project;

  if (batchRoute) {
    const batchId = parts[4];
    if (!BATCH_RE.test(batchId)) return jsonError(404, "not_found", `batch ${batchId} not found`);
    const b = await store.get<BatchData>(`batch:${projectId}:${batchId}`);
    if (!b) return jsonError(404, "not_found", `batch ${batchId} not found in ${projectId}`);
    return json(200, b);
  }
  const pageId = parts[4];
  if (!PAGE_RE.test(pageId)) return jsonError(404, "not_found", `page ${pageId} not found`);
  const st = await store.get<StatusData>(`status:${projectId}:${pageId}`);
  if (!st) return jsonError(404, "not_found", `no status for page ${pageId} in ${projectId}`);
  return json(200, { page_id: pageId, project_id: projectId, ...st });
}
