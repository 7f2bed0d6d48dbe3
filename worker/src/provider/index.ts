// Provider selection, response validation and the NIMBUS_CACHE layer. The
// rewrites of one page request are cached together at cache:{sha256 of
// everything the prompt holds: version, project, domain, model, tone, the
// page's title, description and dimensions, every block} with an `expires`
// stamp: a re-run of the same page costs no AI call and one KV read, and
// another project never sees this one's rewrite.

import { sha256Hex } from "../canonical";
import { intVar, type Env } from "../env";
import { RecordError, type Store } from "../store";
import { headBlockMaxChars, type CacheData } from "../types";
import { LocalProvider } from "./local";
import { OpenAIProvider } from "./openai";
import { ProcessError, type BlockInput, type BlockOutput, type OptimizeRequest, type Provider } from "./types";

export function providerFor(env: Env, over: { retries?: number; maxRetryAfterMs?: number } = {}): Provider {
  const which = (env.AI_PROVIDER ?? "openai").toLowerCase();
  if (which === "local") return new LocalProvider();
  if (which !== "openai") {
    throw new ProcessError("AI_ERROR", `AI_PROVIDER=${which}: want "openai" or "local"`, false);
  }
  return new OpenAIProvider({
    baseURL: env.AI_BASE_URL ?? "",
    apiKey: env.AI_API_KEY,
    timeoutMs: intVar(env.AI_TIMEOUT_MS, 30000, 1),
    retries: over.retries ?? intVar(env.AI_RETRIES, 2),
    maxRetryAfterMs: over.maxRetryAfterMs,
  });
}

const MARKUP = /<\/?[a-zA-Z][^>]*>|&[a-zA-Z]+;|&#[0-9]+;/;

export function hasMarkup(s: string): boolean {
  return MARKUP.test(s);
}

export interface Rejection {
  id: string;
  reason: string;
}

export interface Validated {
  accepted: Map<string, BlockOutput>;
  rejected: Rejection[];
}

/**
 * Validates a provider's answer against the blocks asked for. A malformed
 * answer, or one naming a block id that was not asked for (or twice), is
 * rejected as a whole (AI_INVALID_RESPONSE, retryable): the model did not
 * follow the contract, so none of it is trusted. Per block, empty text and
 * markup where the original had none are rejected and that block keeps its
 * original text; a block the model left out is rejected the same way.
 */
export function validateResponse(blocks: BlockInput[], raw: unknown): Validated {
  const wanted = new Map(blocks.map((b) => [b.id, b]));
  const list = (raw as { blocks?: unknown })?.blocks;
  if (!raw || typeof raw !== "object" || !Array.isArray(list)) {
    throw new ProcessError("AI_INVALID_RESPONSE", 'AI answer has no "blocks" array');
  }
  const accepted = new Map<string, BlockOutput>();
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  for (const [i, e] of list.entries()) {
    const id = (e as { id?: unknown })?.id;
    if (typeof id !== "string") throw new ProcessError("AI_INVALID_RESPONSE", `AI answer blocks[${i}] has no string id`);
    if (!wanted.has(id)) throw new ProcessError("AI_INVALID_RESPONSE", `AI answer names unknown block id ${JSON.stringify(id)}`);
    if (seen.has(id)) throw new ProcessError("AI_INVALID_RESPONSE", `AI answer names block id ${JSON.stringify(id)} twice`);
    seen.add(id);
    const text = (e as { text?: unknown }).text;
    const orig = wanted.get(id)!;
    if (typeof text !== "string" || text.trim() === "") {
      rejected.push({ id, reason: "empty text" });
      continue;
    }
    if (hasMarkup(text) && !hasMarkup(orig.content)) {
      rejected.push({ id, reason: "markup where the original has none" });
      continue;
    }
    // The head's title and meta description are cut off in search results
    // past their limit, and the desktop's QA refuses them then: a longer
    // suggestion cannot be accepted as it is.
    const max = headBlockMaxChars(orig.type);
    const n = [...text.replace(/\s+/g, " ").trim()].length;
    if (max > 0 && n > max) {
      rejected.push({ id, reason: `${n} characters, over the ${max} a ${orig.type === "title" ? "title" : "meta description"} may have` });
      continue;
    }
    let conf = Number((e as { confidence?: unknown }).confidence);
    if (!Number.isFinite(conf)) conf = 0.8;
    conf = Math.min(1, Math.max(0, conf));
    accepted.set(id, { id, text: text.replace(/\s+/g, " ").trim(), confidence: conf });
  }
  for (const b of blocks) if (!seen.has(b.id)) rejected.push({ id: b.id, reason: "missing from the AI answer" });
  return { accepted, rejected };
}

export interface OptimizeResult {
  outputs: Map<string, BlockOutput>;
  rejected: Rejection[];
  cacheHits: number;
  aiCalls: number;
}

/**
 * The cache key of one page request: everything the prompt holds (the
 * page context and every block asked for), so a record answers exactly
 * this request, for this project.
 */
export async function requestCacheKey(req: OptimizeRequest): Promise<string> {
  const dims = req.page?.dimensions ?? {};
  const page = JSON.stringify([req.page?.title ?? "", req.page?.description ?? "", Object.keys(dims).sort().map((k) => [k, dims[k]])]);
  const blocks = JSON.stringify(req.blocks.map((b) => [b.id, b.type, b.content]));
  return "cache:" + (await sha256Hex(["v5", req.project ?? "", req.domain, req.model, req.tone, page, blocks].join("\n")));
}

interface CachedRequest {
  blocks?: { id: string; text: string; confidence: number }[];
  model?: string;
  tone?: string;
}

/**
 * Rewrites blocks through the cache and the provider, validating what comes
 * back. The cache holds one record per page request (requestCacheKey): one
 * KV read and at most one write a page, not two a block (the invocation's
 * 1,000 operations are the Worker's scarcest resource). Blocks whose
 * suggestion was rejected are not cached: the next run asks for them
 * again, and the record then holds the union.
 */
export async function optimizeBlocks(
  env: Env,
  store: Store,
  provider: Provider,
  req: OptimizeRequest,
  now: () => Date = () => new Date(),
  /** Counts provider calls as they are made, so a call that fails counts too. */
  calls: { n: number } = { n: 0 },
): Promise<OptimizeResult> {
  const outputs = new Map<string, BlockOutput>();
  const key = await requestCacheKey(req);
  let hit: CacheData | null = null;
  try {
    hit = await store.get<CacheData>(key);
  } catch (e) {
    // A damaged cache record is a miss (and is written over below), never
    // a page that can neither fail nor finish.
    if (!(e instanceof RecordError)) throw e;
  }
  const cached = new Map<string, BlockOutput>();
  if (hit && Date.parse(hit.expires) > now().getTime()) {
    for (const b of ((hit.data as CachedRequest | undefined)?.blocks ?? [])) {
      if (b && typeof b.id === "string" && typeof b.text === "string") cached.set(b.id, { id: b.id, text: b.text, confidence: Number(b.confidence ?? 0.8) });
    }
  }
  const missing: BlockInput[] = [];
  let cacheHits = 0;
  for (const b of req.blocks) {
    const c = cached.get(b.id);
    if (c) {
      outputs.set(b.id, c);
      cacheHits++;
    } else missing.push(b);
  }
  if (missing.length === 0) return { outputs, rejected: [], cacheHits, aiCalls: 0 };
  calls.n++;
  const raw = await provider.optimize({ ...req, blocks: missing });
  const v = validateResponse(missing, raw);
  for (const [id, out] of v.accepted) outputs.set(id, out);
  if (v.accepted.size > 0) {
    const ttlDays = intVar(env.CACHE_TTL_DAYS, 30, 1);
    const created = now();
    const expires = new Date(created.getTime() + ttlDays * 86400000);
    const rec: CacheData = {
      data: { blocks: [...outputs.values()].map((o) => ({ id: o.id, text: o.text, confidence: o.confidence })), model: req.model, tone: req.tone },
      created: created.toISOString(),
      expires: expires.toISOString(),
      type: "ai_response",
    };
    await store.putFresh(key, rec);
  }
  return { outputs, rejected: v.rejected, cacheHits, aiCalls: 1 };
}
