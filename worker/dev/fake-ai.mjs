// A fake OpenAI-compatible chat-completions server for the local stack and
// the end-to-end tests. It answers the Worker's structured requests with
// deterministic rewrites (the same word table as src/provider/local.ts) and
// has a fault knob: a fraction of calls fails with HTTP 503, chosen by a
// seeded generator so a run is reproducible.
//
// Real behaviours it has: models without JSON mode (gpt-4, gpt-4-0613,
// gpt-4-32k, gpt-3.5-turbo-0613) answer response_format json_object with
// OpenAI's 400 (param "response_format"); asked without JSON mode, every
// model answers in a ```json fence with a line of prose before it, as chat
// models do; a fixed latency (latencyMs, POST /__fault {"latency_ms"}); 429
// with Retry-After for a share of calls (POST /__fault {"rate429": 0.2,
// "retry_after": 5}), as a provider's rate limit answers. What it lacks:
// refusals, partial answers, token limits, and a rate limit of its own
// that counts requests per minute (the 429s are injected by share).
import http from "node:http";

const SWAPS = {
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
const TAIL = {
  premium: " Experience the difference.",
  professional: " Contact us for details.",
  casual: " Give us a shout!",
};

// The same rules as src/provider/local.ts localRewrite: the head's title
// and meta description stay within 60 and 155 characters.
const LEAD = { premium: "Luxury ", professional: "Expert ", casual: "Easy " };

export function rewrite(text, type, tone) {
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

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Models that refuse response_format json_object (OpenAI's older models).
const NO_JSON_MODE = new Set(["gpt-4", "gpt-4-0613", "gpt-4-0314", "gpt-4-32k", "gpt-3.5-turbo-0613"]);

function send(res, status, body) {
  const b = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(b) });
  res.end(b);
}

/**
 * Starts the server. Options: port (0 = any), failRate (0..1), seed.
 * Returns { url (…/v1), stats(), setFailRate(r), close() }.
 * Control endpoints: GET /__stats, POST /__fault {"rate":0.5}.
 */
export async function startFakeAI({ port = 0, failRate = 0, seed = 1, latencyMs = 0 } = {}) {
  let rate = failRate;
  let latency = latencyMs;
  let rate429 = 0;
  let retryAfter = 5;
  let rand = mulberry32(seed);
  const stats = { calls: 0, failed: 0, blocks: 0, rate_limited: 0 };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString("utf8");
    if (req.url === "/__stats") return send(res, 200, { ...stats, fail_rate: rate });
    if (req.url === "/__fault" && req.method === "POST") {
      const f = JSON.parse(raw || "{}");
      if (f.latency_ms !== undefined) latency = Math.max(0, Number(f.latency_ms) || 0);
      if (f.rate429 !== undefined) rate429 = Math.min(1, Math.max(0, Number(f.rate429) || 0));
      if (f.retry_after !== undefined) retryAfter = Number(f.retry_after);
      if (f.rate !== undefined) {
        const r = Number(f.rate);
        if (!(r >= 0 && r <= 1)) return send(res, 400, { error: "rate must be within 0..1" });
        rate = r;
      }
      rand = mulberry32(seed);
      return send(res, 200, { fail_rate: rate, latency_ms: latency, rate429, retry_after: retryAfter });
    }
    if (req.method !== "POST" || !/\/chat\/completions$/.test(req.url ?? "")) {
      return send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error" } });
    }
    stats.calls++;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (rate429 > 0 && rand() < rate429) {
      stats.rate_limited++;
      const b = JSON.stringify({ error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } });
      res.writeHead(429, { "content-type": "application/json", "content-length": Buffer.byteLength(b), "retry-after": String(retryAfter) });
      return res.end(b);
    }
    if (rand() < rate) {
      stats.failed++;
      return send(res, 503, { error: { message: "fake AI: injected failure", type: "server_error" } });
    }
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { error: { message: "body is not JSON", type: "invalid_request_error" } });
    }
    if (body.response_format && NO_JSON_MODE.has(body.model)) {
      return send(res, 400, {
        error: {
          message: "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
          type: "invalid_request_error",
          param: "response_format",
          code: null,
        },
      });
    }
    const user = (body.messages ?? []).filter((m) => m.role === "user").pop();
    let payload;
    try {
      payload = JSON.parse(user?.content ?? "");
    } catch {
      return send(res, 400, { error: { message: "user message is not the Worker's JSON", type: "invalid_request_error" } });
    }
    const tone = payload.tone ?? "professional";
    const blocks = (payload.blocks ?? []).map((b) => {
      stats.blocks++;
      const text = rewrite(b.text ?? "", b.type ?? "p", tone);
      return { id: b.id, text, confidence: text === b.text ? 1 : 0.9 };
    });
    send(res, 200, {
      id: "chatcmpl-fake-" + stats.calls,
      object: "chat.completion",
      model: body.model,
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: body.response_format ? JSON.stringify({ blocks }) : "Here are the rewrites:\n```json\n" + JSON.stringify({ blocks }, null, 2) + "\n```" } }],
    });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${addr.port}/v1`,
    stats: () => ({ ...stats, fail_rate: rate }),
    setFailRate(r) {
      rate = r;
    },
    setLatency(ms) {
      latency = ms;
    },
    setRateLimit(share, retryAfterS = 5) {
      rate429 = share;
      retryAfter = retryAfterS;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
