// The Worker's bindings and configuration (wrangler.jsonc vars and secrets).

import type { AccountCoordinator, ProjectCoordinator } from "./coordinator";

/** One message of the page queue: one queue item, leased by the cron. */
export interface PageMessage {
  project_id: string;
  item: { page_id: string; batch_id: string; priority: number; queued_at: string; attempts: number };
  /** The lease token (ProjectCoordinator.start checks it). */
  token: string;
}

export interface Env {
  NIMBUS_USERS: KVNamespace;
  NIMBUS_PROJECTS: KVNamespace;
  NIMBUS_KEYS: KVNamespace;
  NIMBUS_EMAILS: KVNamespace;
  NIMBUS_CACHE: KVNamespace;
  NIMBUS_SESSIONS: KVNamespace;
  NIMBUS_PAGES: KVNamespace;
  NIMBUS_BATCHES: KVNamespace;
  NIMBUS_QUEUE: KVNamespace;
  NIMBUS_STATUS: KVNamespace;
  NIMBUS_LOGS: KVNamespace;

  /** Producer binding of the page queue (fan-out; wrangler.jsonc "queues"). */
  PAGE_QUEUE?: Queue<PageMessage>;
  /** One per project: leases queue items, folds outcomes into batch: and queue:. */
  PROJECT_COORDINATOR: DurableObjectNamespace<ProjectCoordinator>;
  /** One per account: the AI request budget and invocation statistics. */
  ACCOUNT_COORDINATOR: DurableObjectNamespace<AccountCoordinator>;
  /** "queues" (default): the cron leases and sends one message per page; "cron": the old in-cron processor. */
  FANOUT?: string;
  /** Account-wide AI requests per minute (dispatch and pacing of every AI request). */
  AI_REQUESTS_PER_MINUTE?: string;
  /** Pages one consumer invocation processes at once. */
  QUEUE_CONCURRENCY?: string;
  /** Base of the exponential retry backoff, in seconds (jittered, doubled per attempt, at most 15 min). */
  QUEUE_RETRY_BASE_S?: string;
  /** Messages one cron run sends at most (all projects). */
  DISPATCH_MAX_PER_RUN?: string;

  /** "openai" (default): OpenAI-compatible chat completions; "local": the deterministic test/demo provider. */
  AI_PROVIDER?: string;
  /** Base URL of the chat-completions API, e.g. https://api.openai.com/v1 */
  AI_BASE_URL?: string;
  /** Secret: bearer token for AI_BASE_URL. */
  AI_API_KEY?: string;
  /** Model used when a project has no ai_model. */
  AI_DEFAULT_MODEL?: string;
  AI_TIMEOUT_MS?: string;
  /** Extra attempts of one AI call inside one processing attempt (429/5xx/network). */
  AI_RETRIES?: string;
  CACHE_TTL_DAYS?: string;
  /** Processing attempts per queue item before the page is failed. */
  MAX_ATTEMPTS?: string;
  /** Pages one invocation processes per project (keeps within subrequest limits). */
  MAX_PAGES_PER_RUN?: string;
  /** A page in an active processing step is not picked again for this long. */
  LEASE_MS?: string;
  /** Minimum spacing of writes to one key within an invocation (KV allows ~1/s per key). */
  KV_MIN_WRITE_INTERVAL_MS?: string;
  /** KV operations allowed per invocation (Cloudflare: 1,000 on the paid plan). */
  KV_OPS_LIMIT?: string;
  /** Seconds after a page finished when the coordinator reads its status record back (past KV's ~60 s staleness) and writes it again if a stale desktop write put an older one over it. */
  STATUS_VERIFY_S?: string;
  /** Local stack only (--kv-stale-seconds): the Worker's KV reads are up to this many seconds old (src/stalekv.ts). */
  KV_STALE_SECONDS?: string;
  /** Secret enabling POST /__process (tests and the local stack); unset = endpoint off. */
  PROCESS_SECRET?: string;
}

export const NAMESPACES = [
  "NIMBUS_USERS",
  "NIMBUS_PROJECTS",
  "NIMBUS_KEYS",
  "NIMBUS_EMAILS",
  "NIMBUS_CACHE",
  "NIMBUS_SESSIONS",
  "NIMBUS_PAGES",
  "NIMBUS_BATCHES",
  "NIMBUS_QUEUE",
  "NIMBUS_STATUS",
  "NIMBUS_LOGS",
] as const;

export type NamespaceName = (typeof NAMESPACES)[number];

/** Namespace of each key kind (model/keys.go). */
export const KIND_NAMESPACE: Record<string, NamespaceName> = {
  user: "NIMBUS_USERS",
  projects: "NIMBUS_USERS",
  apikeys: "NIMBUS_USERS",
  project: "NIMBUS_PROJECTS",
  apikey: "NIMBUS_KEYS",
  email: "NIMBUS_EMAILS",
  cache: "NIMBUS_CACHE",
  session: "NIMBUS_SESSIONS",
  page: "NIMBUS_PAGES",
  review: "NIMBUS_PAGES",
  batch: "NIMBUS_BATCHES",
  queue: "NIMBUS_QUEUE",
  status: "NIMBUS_STATUS",
  logs: "NIMBUS_LOGS",
};

export function intVar(v: string | undefined, def: number, min = 0): number {
  const n = v === undefined || v === "" ? NaN : Number(v);
  return Number.isFinite(n) && n >= min ? Math.floor(n) : def;
}
