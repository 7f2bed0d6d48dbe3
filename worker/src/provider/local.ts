// A deterministic local provider for tests and demos (AI_PROVIDER=local). It
// never calls out: it rewrites text with a fixed word table per tone, keeps
// numbers and names, and so gives the same output for the same input on every
// run. It is never the default: production uses the OpenAI-compatible client.

import type { OptimizeRequest, Provider } from "./types";

const SWAPS: Record<string, [RegExp, string][]> = {
  premium: [
    [/\bgood\b/g, "exceptional"],
    [/\bfast\b/g, "swift"],
    [/\bcheap\b/g, "great value"],
    [/\bservice\b/g, "bespoke service"],
    [/\bWe\b/g, "Our specialists"],
  ],
  professional: [
    [/\bgood\b/g, "reliable"],
    [/\bfast\b/g, "prompt"],
    [/\bcheap\b/g, "cost-effective"],
    [/\bservice\b/g, "professional service"],
  ],
  casual: [
    [/\bgood\b/g, "great"],
    [/\bfast\b/g, "quick"],
    [/\bcheap\b/g, "budget-friendly"],
  ],
};

const TAIL: Record<string, string> = {
  premium: " Experience the difference.",
  professional: " Contact us for details.",
  casual: " Give us a shout!",
};

/** What a title leads with in each tone (the head's title, model.HeadBlocks). */
const LEAD: Record<string, string> = { premium: "Luxury ", professional: "Expert ", casual: "Easy " };

/**
 * The local rewrite of one text (exported for tests and the fake AI server's
 * parity check). The head's title and meta description stay within their
 * limits (60 and 155 characters), as a model asked to does: a rewrite that
 * would not fit leaves the text as it is.
 */
export function localRewrite(text: string, type: string, tone: string): string {
  const t = SWAPS[tone] ? tone : "professional";
  if (type === "title") {
    const out = LEAD[t] + text;
    return !text.startsWith(LEAD[t]) && [...out].length <= 60 ? out : text;
  }
  let out = text;
  for (const [re, rep] of SWAPS[t]) out = out.replace(re, rep);
  if (type === "meta_description") {
    if (out === text) out = text + TAIL[t];
    return [...out].length <= 155 ? out : text;
  }
  if (out === text && (type === "p" || type === "blockquote")) out = text + TAIL[t];
  return out;
}

export class LocalProvider implements Provider {
  readonly name = "local";
  async optimize(req: OptimizeRequest): Promise<unknown> {
    return {
      blocks: req.blocks.map((b) => {
        const text = localRewrite(b.content, b.type, req.tone);
        return { id: b.id, text, confidence: text === b.content ? 1 : 0.9 };
      }),
    };
  }
}
