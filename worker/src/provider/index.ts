// Provider selection, response validation and the NIMBUS_CACHE layer. Every
// block rewrite is cached at cache:{sha256(prompt version, project, domain,
// model, tone, type, text)} with an `expires` stamp, so the same text on
// many pages of a project (common on generated sites: a shared paragraph on
// 1,000 location pages) costs one AI call, and another project never sees
// this one's rewrite.

import { sha256Hex } from "../canonical";
import { intVar, type Env } from "../env";
import type { Store } from "../store";
import type { CacheData } from "../types";
import { LocalProvider } from "./local";
import { OpenAIProvider } from "./openai";
import { ProcessError, type BlockInput, type BlockOutput, type OptimizeRequest, type Provider } from "./types";

export function providerFor(env: Env): Provider {
  const which = (env.AI_PROVIDER ?? "openai").toLowerCase();
  if (which === "local") return new LocalProvider();
  if (which !== "openai") {
    throw new ProcessError("AI_ERROR", `AI_PROVIDER=${which}: want "openai" or "local"`, false);
  }
  return new OpenAIProvider({
    baseURL: env.AI_BASE_URL ?? "",
    apiKey: env.AI_API_KEY,
    timeoutMs: intVar(env.AI_TIMEOUT_MS, 30000, 1),
    retries: intVar(env.AI_RETRIES, 2),
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
    let conf = Number((e as { confidence?: unknown }).confidence);
    if (!Number.isFinite(conf)) conf = 0.8;
    conf = Math.min(1, Math.max(0, conf));
    accepted.set(id, { id, text: text.replace(/\s+/g, " ").trim(), confidence: conf });
  }
  for (const b of blocks) if (!seen.has(b.id)) rejected.push({ id: b.id, reason: "missing from the AI answer" });
  return { accepted, rejected };
}

/**
 * The cache key of one block's rewrite: everything in the prompt that
 * shapes the answer (prompt version, model, tone, domain, block type, text)
 * and the project, so no project is ever served another's rewrite.
 */
export async function cacheKey(c: {
  project?: string;
  domain: string;
  model: string;
  tone: string;
  type: string;
  text: string;
  page?: OptimizeRequest["page"];
}): Promise<string> {
  // The page context is in the prompt, so it is in the key; canonical JSON
  // (sorted dimension names) so equal contexts give equal keys.
  const dims = c.page?.dimensions ?? {};
  const page = JSON.stringify([c.page?.title ?? "", c.page?.description ?? "", Object.keys(dims).sort().map((k) => [k, dims[k]])]);
  return "cache:" + (await sha256Hex(["v3", c.project ?? "", c.domain, c.model, c.tone, page, c.type, c.text].join("\n")));
}

export interface OptimizeResult {
  outputs: Map<string, BlockOutput>;
  rejected: Rejection[];
  cacheHits: number;
  aiCalls: number;
}

/** Rewrites blocks through the cache and the provider, validating what comes back. */
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
  const keys = new Map<string, string>();
  const missing: BlockInput[] = [];
  let cacheHits = 0;
  for (const b of req.blocks) {
    const key = await cacheKey({ project: req.project, domain: req.domain, model: req.model, tone: req.tone, page: req.page, type: b.type, text: b.content });
    keys.set(b.id, key);
    const hit = await store.get<CacheData>(key);
    const data = hit?.data as { text?: unknown; confidence?: unknown } | undefined;
    if (hit && Date.parse(hit.expires) > now().getTime() && typeof data?.text === "string") {
      outputs.set(b.id, { id: b.id, text: data.text, confidence: Number(data.confidence ?? 0.8) });
      cacheHits++;
    } else missing.push(b);
  }
  if (missing.length === 0) return { outputs, rejected: [], cacheHits, aiCalls: 0 };
  calls.n++;
  const raw = await provider.optimize({ ...req, blocks: missing });
  const v = validateResponse(missing, raw);
  const ttlDays = intVar(env.CACHE_TTL_DAYS, 30, 1);
  const created = now();
  const expires = new Date(created.getTime() + ttlDays * 86400000);
  for (const [id, out] of v.accepted) {
    outputs.set(id, out);
    const rec: CacheData = {
      data: { text: out.text, confidence: out.confidence, model: req.model, tone: req.tone },
      created: created.toISOString(),
      expires: expires.toISOString(),
      type: "ai_response",
    };
    await store.put(keys.get(id)!, rec);
  }
  return { outputs, rejected: v.rejected, cacheHits, aiCalls: 1 };
}
