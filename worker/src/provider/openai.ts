// OpenAI-compatible chat-completions client. Asks for a JSON object with one
// rewrite per block id; the response is validated by provider/index.ts.
// Timeouts abort the request (AI_TIMEOUT); 429, 5xx and network errors are
// retried with exponential backoff and jitter up to `retries` extra times.

import { ProcessError, type OptimizeRequest, type Provider } from "./types";

export interface OpenAIOptions {
  baseURL: string;
  apiKey?: string;
  timeoutMs: number;
  retries: number;
  fetch?: typeof fetch;
}

const TONES: Record<string, string> = {
  premium: "refined, confident and premium, for discerning customers",
  professional: "clear, precise and professional",
  casual: "friendly, relaxed and conversational",
};

export function buildMessages(req: OptimizeRequest): { role: string; content: string }[] {
  const tone = TONES[req.tone] ?? TONES.professional;
  return [
    {
      role: "system",
      content:
        "You rewrite website copy for SEO and readability. Tone: " +
        tone +
        ". Keep every number, price, brand name and place name exactly as written. " +
        "Keep roughly the same length. Return plain text only: no HTML or Markdown unless the original has it. " +
        'Answer with a JSON object {"blocks":[{"id":"<block id>","text":"<rewritten text>","confidence":<0..1>}]} ' +
        "with exactly one entry per input block and no other ids.",
    },
    {
      role: "user",
      content: JSON.stringify({
        domain: req.domain,
        tone: req.tone,
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
    const body = JSON.stringify({
      model: req.model,
      messages: buildMessages(req),
      response_format: { type: "json_object" },
      temperature: 0.2,
    });
    const doFetch = this.opts.fetch ?? fetch;
    let last: ProcessError = new ProcessError("AI_ERROR", "no attempt made");
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) {
        const base = Math.min(2000, 100 * 2 ** attempt);
        await sleep(base / 2 + Math.random() * (base / 2));
      }
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), this.opts.timeoutMs);
      let res: Response;
      try {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        res = await doFetch(url, { method: "POST", headers, body, signal: ctrl.signal });
        const text = await res.text();
        clearTimeout(timer);
        if (res.status === 429) {
          last = new ProcessError("AI_RATE_LIMITED", `AI API ${url}: HTTP 429 (rate limited)`);
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
        const content = parsed?.choices?.[0]?.message?.content;
        if (typeof content !== "string") {
          throw new ProcessError("AI_INVALID_RESPONSE", `AI API ${url}: no choices[0].message.content in the response`);
        }
        try {
          return JSON.parse(content);
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
