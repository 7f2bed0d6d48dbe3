// The Worker's bindings and configuration (wrangler.jsonc vars and secrets).

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
