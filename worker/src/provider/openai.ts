// OpenAI-compatible chat-completions client. Asks for a JSON object with one
// rewrite per block id; the response is validated by provider/index.ts.
// Timeouts abort the request (AI_TIMEOUT); 429, 5xx and network errors are
// retried up to `retries` extra times: after the Retry-After the server
// asked for (retry-after-ms or Retry-After, seconds or a date) when it is at
// most maxRetryAfterMs, else with exponential backoff and jitter; a longer
// Retry-After ends the call with AI_RATE_LIMITED carrying it (retryAfterMs)
// so the page is retried later instead of failing.
//
// JSON mode: response_format json_object is sent unless the model is known
// to refuse it. Models such as gpt-4 answer it with a 400 naming
// response_format; the request is then sent once more without it (the
// prompt asks for JSON anyway) and the model is remembered for this isolate.
// Content in a Markdown code fence, or with prose around the object, is
// accepted; a refusal (message.refusal) fails the page with its text.

import { ProcessError, type OptimizeRequest, type Provider } from "./types";

export interface OpenAIOptions {
  baseURL: string;
  apiKey?: string;
  timeoutMs: number;
  retries: number;
  /** The longest Retry-After waited for inside one call (default 10 s). */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** Models that refused response_format in this isolate. */
const noJSONMode = new Set<string>();

/** True for a 400 that refuses JSON mode (OpenAI: param "response_format"). */
function refusesJSONMode(status: number, text: string): boolean {
  return status === 400 && /response_format|json_object|json mode/i.test(text);
}

/** Milliseconds the server asked us to wait, or undefined. */
export function retryAfterMs(h: Headers, now: number = Date.now()): number | undefined {
  const ms = h.get("retry-after-ms");
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const v = h.get("retry-after")?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The JSON object in a model's message content: the whole content, else
 * the inside of a ``` fence, else the text from the first { to the last }.
 */
export function parseJSONContent(content: string): unknown {
  const tries = [content];
  const fence = /```(?:json|JSON)?\s*([\s\S]*?)```/.exec(content);
  if (fence) tries.push(fence[1]);
  const a = content.indexOf("{");
  const b = content.lastIndexOf("}");
  if (a >= 0 && b > a) tries.push(content.slice(a, b + 1));
  for (const t of tries) {
    try {
      return JSON.parse(t.trim());
    } catch {
      // next
    }
  }
  throw new Error("not JSON");
}

const TONES: Record<string, string> = {
  premium: "refined, confident and premium, for discerning customers",
  professional: "clear, precise and professional",
  casual: "friendly, relaxed and conversational",
};

export function buildMessages(req: OptimizeRequest): { role: string; content: string }[] {
  const tone = TONES[req.tone] ?? TONES.professional;
  const dims = req.page?.dimensions ?? {};
  const keep = Object.values(dims).filter((v) => typeof v === "string" && v.trim() !== "");
  return [
    {
      role: "system",
      content:
        "You rewrite the copy of one page of a website for SEO and readability, for the site " +
        (req.domain || "given") +
        ". Tone: " +
        tone +
        ". The page's title, meta description and dimensions (the location, brand and service it is about) are context: " +
        "keep the page about them. Keep every fact exactly as written: prices, numbers, dates, phone numbers, " +
        "brand names and place names (the dimension values are such names). " +
        "Keep roughly the same length. Return plain text only: no HTML or Markdown unless the original has it. " +
        'A block of type "title" is the page\'s <title> and one of type "meta_description" its meta description, ' +
        "both shown in search results: write them for a searcher, keep the brand and place names, " +
        "and keep a title within 60 characters and a meta description within 155 characters. " +
        'Answer with a JSON object {"blocks":[{"id":"<block id>","text":"<rewritten text>","confidence":<0..1>}]} ' +
        "with exactly one entry per input block and no other ids.",
    },
    {
      role: "user",
      content: JSON.stringify({
        domain: req.domain,
        tone: req.tone,
        page: { title: req.page?.title ?? "", description: req.page?.description ?? "", dimensions: dims },
        keep_exactly: keep,
        blocks: req.blocks.map((b) => ({ id: b.id, type: b.type, text: b.content })),
      }),
    },
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class OpenAIProvider implements Provider {
  readonly name = "openai";
  constructor(private readonly opts: OpenAIOptions) {
    if (!opts.baseURL) throw new ProcessError("AI_ERROR", "AI_BASE_URL is not configured", false);
  }

  async optimize(req: OptimizeRequest): Promise<unknown> {
    const url = this.opts.baseURL.replace(/\/+$/, "") + "/chat/completions";
    const bodyFor = (jsonMode: boolean) =>
      JSON.stringify({
        model: req.model,
        messages: buildMessages(req),
        ...(jsonMode ? { response_format: { type: "json_object" } } : {}),
        temperature: 0.2,
      });
    const doFetch = this.opts.fetch ?? fetch;
    const wait = this.opts.sleep ?? sleep;
    const maxWait = this.opts.maxRetryAfterMs ?? 10_000;
    let last: ProcessError = new ProcessError("AI_ERROR", "no attempt made");
    let delay = 0;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) {
        if (delay > 0) await wait(delay);
        else {
          const base = Math.min(2000, 100 * 2 ** attempt);
          await wait(base / 2 + Math.random() * (base / 2));
        }
      }
      delay = 0;
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), this.opts.timeoutMs);
      let res: Response;
      try {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        let jsonMode = !noJSONMode.has(req.model);
        res = await doFetch(url, { method: "POST", headers, body: bodyFor(jsonMode), signal: ctrl.signal });
        let text = await res.text();
        if (jsonMode && refusesJSONMode(res.status, text)) {
          // The model has no JSON mode: ask again without it, at once.
          noJSONMode.add(req.model);
          jsonMode = false;
          res = await doFetch(url, { method: "POST", headers, body: bodyFor(false), signal: ctrl.signal });
          text = await res.text();
        }
        clearTimeout(timer);
        if (res.status === 429 || res.status === 503) {
          const after = retryAfterMs(res.headers);
          const what = res.status === 429 ? "HTTP 429 (rate limited)" : `HTTP 503: ${text.slice(0, 200)}`;
          if (after !== undefined && after > maxWait) {
            // Longer than a call should wait: the page is retried later.
            throw new ProcessError("AI_RATE_LIMITED", `AI API ${url}: ${what}; retry after ${Math.ceil(after / 1000)} s`, true, after);
          }
          last = new ProcessError(res.status === 429 ? "AI_RATE_LIMITED" : "AI_ERROR", `AI API ${url}: ${what}`, true, after);
          delay = after ?? 0;
          continue;
        }
        if (res.status >= 500) {
          last = new ProcessError("AI_ERROR", `AI API ${url}: HTTP ${res.status}: ${text.slice(0, 200)}`);
          continue;
        }
        if (!res.ok) {
          // 4xx other than 429: our request or credentials are wrong; retrying will not help.
          throw new ProcessError("AI_ERROR", `AI API ${url}: HTTP ${res.status}: ${text.slice(0, 200)}`, false);
        }
        let parsed: any;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ProcessError("AI_INVALID_RESPONSE", `AI API ${url}: response is not JSON: ${text.slice(0, 120)}`);
        }
        const message = parsed?.choices?.[0]?.message;
        if (typeof message?.refusal === "string" && message.refusal !== "") {
          throw new ProcessError("AI_INVALID_RESPONSE", `AI API ${url}: the model refused: ${message.refusal.slice(0, 300)}`, false);
        }
        const content = message?.content;
        if (typeof content !== "string") {
          throw new ProcessError("AI_INVALID_RESPONSE", `AI API ${url}: no choices[0].message.content in the response`);
        }
        try {
          return parseJSONContent(content);
        } catch {
          throw new ProcessError("AI_INVALID_RESPONSE", `AI API ${url}: message content is not JSON: ${content.slice(0, 120)}`);
        }
      } catch (e) {
        clearTimeout(timer);
        if (e instanceof ProcessError) throw e;
        if (ctrl.signal.aborted) {
          last = new ProcessError("AI_TIMEOUT", `AI API ${url}: no answer within ${this.opts.timeoutMs} ms`);
        } else {
          last = new ProcessError("AI_ERROR", `AI API ${url}: ${(e as Error).message}`);
        }
      }
    }
    throw last;
  }
}
