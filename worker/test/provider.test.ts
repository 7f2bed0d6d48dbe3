import { describe, expect, it } from "vitest";
import { LocalProvider, localRewrite } from "../src/provider/local";
import { buildMessages, OpenAIProvider, parseJSONContent, retryAfterMs } from "../src/provider/openai";
import { optimizeBlocks, providerFor, requestCacheKey, validateResponse } from "../src/provider/index";
import { ProcessError } from "../src/provider/types";
import { Store } from "../src/store";
import { testEnv } from "./helpers";

const blocks = [
  { id: "block-0", type: "h1", content: "Rolex repair in Leeds" },
  { id: "block-1", type: "p", content: "We fix watches fast, from £99." },
  { id: "block-2", type: "p", content: "Visit <b>our</b> shop" },
];

function expectCode(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProcessError);
    expect((e as ProcessError).code).toBe(code);
    return (e as ProcessError).message;
  }
  throw new Error(`expected ${code}`);
}

describe("provider validation", () => {
  it("accepts well-formed rewrites and clamps confidence", () => {
    const v = validateResponse(blocks, {
      blocks: [
        { id: "block-0", text: "Expert Rolex repair in Leeds", confidence: 1.7 },
        { id: "block-1", text: "Swift watch repairs,  from £99.", confidence: "x" },
        { id: "block-2", text: "Visit <b>our</b> boutique", confidence: 0.5 },
      ],
    });
    expect(v.rejected).toEqual([]);
    expect(v.accepted.get("block-0")).toEqual({ id: "block-0", text: "Expert Rolex repair in Leeds", confidence: 1 });
    expect(v.accepted.get("block-1")!.text).toBe("Swift watch repairs, from £99.");
    expect(v.accepted.get("block-1")!.confidence).toBe(0.8);
  });
  it("rejects the whole answer on an unknown or repeated block id, or a malformed shape", () => {
    expect(expectCode(() => validateResponse(blocks, { blocks: [{ id: "block-9", text: "x" }] }), "AI_INVALID_RESPONSE")).toContain("block-9");
    expectCode(() => validateResponse(blocks, { blocks: [{ id: "block-0", text: "a" }, { id: "block-0", text: "b" }] }), "AI_INVALID_RESPONSE");
    expectCode(() => validateResponse(blocks, { text: "hello" }), "AI_INVALID_RESPONSE");
    expectCode(() => validateResponse(blocks, null), "AI_INVALID_RESPONSE");
  });
  it("rejects empty text, markup where there was none, and missing blocks, keeping the rest", () => {
    const v = validateResponse(blocks, {
      blocks: [
        { id: "block-0", text: "   " },
        { id: "block-1", text: "We fix <script>x</script> watches" },
      ],
    });
    expect(v.accepted.size).toBe(0);
    expect(v.rejected).toEqual([
      { id: "block-0", reason: "empty text" },
      { id: "block-1", reason: "markup where the original has none" },
      { id: "block-2", reason: "missing from the AI answer" },
    ]);
    // markup is fine where the original had it
    const ok = validateResponse([blocks[2]], { blocks: [{ id: "block-2", text: "Come to <b>our</b> shop" }] });
    expect(ok.accepted.size).toBe(1);
  });
  it("local provider is deterministic and chosen only by configuration", async () => {
    expect(localRewrite("good and fast", "p", "casual")).toBe("great and quick");
    expect(localRewrite("Nothing to swap", "p", "premium")).toBe("Nothing to swap Experience the difference.");
    expect(localRewrite("Nothing to swap", "h1", "premium")).toBe("Nothing to swap");
    // The head's blocks stay within their limits, as a model asked to does.
    expect(localRewrite("Rolex Repair in Birmingham", "title", "premium")).toBe("Luxury Rolex Repair in Birmingham");
    expect(localRewrite("Luxury Rolex Repair", "title", "premium")).toBe("Luxury Rolex Repair");
    expect(localRewrite("x".repeat(54), "title", "premium")).toBe("x".repeat(54));
    expect(localRewrite("Rolex repair.", "meta_description", "casual")).toBe("Rolex repair. Give us a shout!");
    expect(localRewrite("y".repeat(140), "meta_description", "casual")).toBe("y".repeat(140));
    const a = await new LocalProvider().optimize({ model: "m", tone: "premium", domain: "", blocks });
    const b = await new LocalProvider().optimize({ model: "m", tone: "premium", domain: "", blocks });
    expect(a).toEqual(b);
    expect(providerFor({ ...testEnv, AI_PROVIDER: "local" }).name).toBe("local");
    expect(providerFor({ ...testEnv, AI_PROVIDER: undefined, AI_BASE_URL: "https://ai.example/v1" }).name).toBe("openai");
    expect(() => providerFor({ ...testEnv, AI_PROVIDER: "magic" })).toThrow(/AI_PROVIDER/);
  });
});

function chatResponse(content: unknown, status = 200): Response {
  return new Response(JSON.stringify({ choices: [{ message: { role: "assistant", content: JSON.stringify(content) } }] }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function chatRaw(content: string): Response {
  return new Response(JSON.stringify({ choices: [{ message: { role: "assistant", content } }] }), { headers: { "content-type": "application/json" } });
}

describe("OpenAI-compatible client", () => {
  it("sends model, tone and blocks; parses the JSON content", async () => {
    let seen: any;
    let auth = "";
    const p = new OpenAIProvider({
      baseURL: "https://ai.example/v1/",
      apiKey: "sk-test",
      timeoutMs: 1000,
      retries: 0,
      fetch: (async (url: string, init: RequestInit) => {
        expect(url).toBe("https://ai.example/v1/chat/completions");
        auth = (init.headers as Record<string, string>).authorization;
        seen = JSON.parse(init.body as string);
        return chatResponse({ blocks: [{ id: "block-0", text: "Hi", confidence: 0.9 }] });
      }) as unknown as typeof fetch,
    });
    const out = await p.optimize({ model: "gpt-x", tone: "casual", domain: "d.com", blocks: [blocks[0]] });
    expect(out).toEqual({ blocks: [{ id: "block-0", text: "Hi", confidence: 0.9 }] });
    expect(auth).toBe("Bearer sk-test");
    expect(seen.model).toBe("gpt-x");
    expect(seen.response_format).toEqual({ type: "json_object" });
    expect(seen.messages[0].content).toContain("friendly");
    expect(JSON.parse(seen.messages[1].content).blocks[0]).toEqual({ id: "block-0", type: "h1", text: "Rolex repair in Leeds" });
  });
  it("retries 5xx and 429, then succeeds", async () => {
    let n = 0;
    const p = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 2,
      fetch: (async () => {
        n++;
        if (n === 1) return new Response("overloaded", { status: 503 });
        if (n === 2) return new Response("slow down", { status: 429 });
        return chatResponse({ blocks: [] });
      }) as unknown as typeof fetch,
    });
    expect(await p.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).toEqual({ blocks: [] });
    expect(n).toBe(3);
  });
  it("times out with AI_TIMEOUT and does not retry 4xx", async () => {
    const slow = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 50,
      retries: 1,
      fetch: ((_u: string, init: RequestInit) =>
        new Promise((_r, rej) => init.signal!.addEventListener("abort", () => rej(new Error("aborted"))))) as unknown as typeof fetch,
    });
    await expect(slow.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).rejects.toMatchObject({ code: "AI_TIMEOUT" });
    let n = 0;
    const bad = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 3,
      fetch: (async () => {
        n++;
        return new Response("bad key", { status: 401 });
      }) as unknown as typeof fetch,
    });
    await expect(bad.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).rejects.toMatchObject({ code: "AI_ERROR", retryable: false });
    expect(n).toBe(1);
    const garbage = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 0,
      fetch: (async () => new Response(JSON.stringify({ choices: [{ message: { content: "not json" } }] }))) as unknown as typeof fetch,
    });
    await expect(garbage.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).rejects.toMatchObject({ code: "AI_INVALID_RESPONSE" });
  });
});

describe("OpenAI-compatible client on real models' behaviour", () => {
  const jsonModeError = JSON.stringify({
    error: { message: "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.", type: "invalid_request_error", param: "response_format", code: null },
  });
  it("falls back to JSON in the prompt when the model refuses JSON mode, and accepts fenced JSON", async () => {
    const sent: any[] = [];
    const p = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 0,
      fetch: (async (_u: string, init: RequestInit) => {
        const body = JSON.parse(init.body as string);
        sent.push(body);
        if (body.response_format) return new Response(jsonModeError, { status: 400 });
        return chatRaw("Here you are:\n```json\n" + JSON.stringify({ blocks: [{ id: "block-0", text: "Hi", confidence: 0.9 }] }) + "\n```");
      }) as unknown as typeof fetch,
    });
    const model = `gpt-4-nojson-${Math.random()}`;
    const req = { model, tone: "casual", domain: "d.com", blocks: [blocks[0]] };
    expect(await p.optimize(req)).toEqual({ blocks: [{ id: "block-0", text: "Hi", confidence: 0.9 }] });
    expect(sent.map((b) => Boolean(b.response_format))).toEqual([true, false]);
    // the model is remembered: the next call goes without JSON mode at once
    await p.optimize(req);
    expect(sent.map((b) => Boolean(b.response_format))).toEqual([true, false, false]);
  });
  it("honours Retry-After: waits that long before the retry, or hands a long one back to the processor", async () => {
    const waits: number[] = [];
    let n = 0;
    const p = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 2,
      sleep: async (ms) => {
        waits.push(ms);
      },
      fetch: (async () => {
        n++;
        if (n === 1) return new Response("slow down", { status: 429, headers: { "retry-after": "5" } });
        return chatResponse({ blocks: [] });
      }) as unknown as typeof fetch,
    });
    expect(await p.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).toEqual({ blocks: [] });
    expect(waits).toEqual([5000]);
    const long = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 2,
      fetch: (async () => new Response("slow down", { status: 429, headers: { "retry-after": "120" } })) as unknown as typeof fetch,
    });
    await expect(long.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).rejects.toMatchObject({
      code: "AI_RATE_LIMITED",
      retryable: true,
      retryAfterMs: 120000,
    });
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 01 Dec 2026 10:00:05 GMT" }), Date.parse("2026-12-01T10:00:00Z"))).toBe(5000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
  it("keeps a refusal's text and does not retry it", async () => {
    let n = 0;
    const p = new OpenAIProvider({
      baseURL: "https://ai.example/v1",
      timeoutMs: 1000,
      retries: 2,
      fetch: (async () => {
        n++;
        return new Response(JSON.stringify({ choices: [{ message: { role: "assistant", content: null, refusal: "I can't help with that request." } }] }));
      }) as unknown as typeof fetch,
    });
    await expect(p.optimize({ model: "m", tone: "premium", domain: "", blocks: [] })).rejects.toMatchObject({
      code: "AI_INVALID_RESPONSE",
      retryable: false,
      message: expect.stringContaining("I can't help with that request."),
    });
    expect(n).toBe(1);
  });
  it("parses JSON content with prose or a fence around it", () => {
    expect(parseJSONContent('{"a":1}')).toEqual({ a: 1 });
    expect(parseJSONContent('```\n{"a":1}\n```')).toEqual({ a: 1 });
    expect(parseJSONContent('Sure! {"a":{"b":2}} Hope this helps.')).toEqual({ a: { b: 2 } });
    expect(() => parseJSONContent("no json here")).toThrow();
  });
});

describe("the prompt carries what SEO copy needs", () => {
  it("sends title, meta description and dimensions, and lists the names to keep", () => {
    const msgs = buildMessages({
      model: "m",
      tone: "premium",
      domain: "timekeepers.example",
      page: { title: "Rolex repair in Leeds", description: "Fixed prices from £99.", dimensions: { location: "leeds", brand: "rolex" } },
      blocks: [blocks[0]],
    });
    expect(msgs[0].content).toContain("timekeepers.example");
    expect(msgs[0].content).toMatch(/phone numbers/);
    const user = JSON.parse(msgs[1].content);
    expect(user.page).toEqual({ title: "Rolex repair in Leeds", description: "Fixed prices from £99.", dimensions: { location: "leeds", brand: "rolex" } });
    expect(user.keep_exactly).toEqual(["leeds", "rolex"]);
  });
  it("keys the cache on the page context too", async () => {
    const k = { project: "proj_000000000001", domain: "a.com", model: "m1", tone: "casual", blocks: [{ id: "block-0", type: "p", content: "t" }] };
    const a = await requestCacheKey({ ...k, page: { title: "A", dimensions: { brand: "rolex", location: "leeds" } } });
    const b = await requestCacheKey({ ...k, page: { title: "A", dimensions: { location: "leeds", brand: "rolex" } } });
    const c = await requestCacheKey({ ...k, page: { title: "B", dimensions: { brand: "rolex", location: "leeds" } } });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});

describe("response cache", () => {
  it("is per project: the same text in two projects with different domains costs two AI calls", async () => {
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    let calls = 0;
    const prov = {
      name: "count",
      async optimize(req: { blocks: { id: string; content: string }[] }) {
        calls++;
        return { blocks: req.blocks.map((b) => ({ id: b.id, text: b.content + " (new)" })) };
      },
    };
    const text = `shared paragraph ${Math.random()}`;
    const base = { model: "m1", tone: "casual", blocks: [{ id: "block-0", type: "p", content: text }] };
    await optimizeBlocks(testEnv, store, prov, { ...base, project: "proj_00000000aaaa", domain: "a.com" });
    await optimizeBlocks(testEnv, store, prov, { ...base, project: "proj_00000000bbbb", domain: "b.com" });
    expect(calls).toBe(2);
    const again = await optimizeBlocks(testEnv, store, prov, { ...base, project: "proj_00000000aaaa", domain: "a.com" });
    expect(again).toMatchObject({ aiCalls: 0, cacheHits: 1 });
  });

  it("caches a page request's validated rewrites, honours expires, asks again for rejected ones", async () => {
    const store = new Store({ ...testEnv, KV_MIN_WRITE_INTERVAL_MS: "0" });
    let calls = 0;
    const prov = {
      name: "count",
      async optimize(req: { blocks: { id: string; content: string }[] }) {
        calls++;
        return { blocks: req.blocks.map((b) => ({ id: b.id, text: b.content.includes("bad") ? "" : b.content + " (new)" })) };
      },
    };
    const uniq = `cache test ${Math.random()}`;
    const req = { model: "m1", tone: "casual", domain: "", blocks: [{ id: "block-0", type: "p", content: uniq }, { id: "block-1", type: "p", content: uniq + " bad" }] };
    const now = new Date("2026-11-26T12:00:00.000Z");
    const r1 = await optimizeBlocks(testEnv, store, prov, req, () => now);
    expect(r1).toMatchObject({ aiCalls: 1, cacheHits: 0 });
    expect(r1.rejected).toEqual([{ id: "block-1", reason: "empty text" }]);
    const r2 = await optimizeBlocks(testEnv, store, prov, req, () => now);
    expect(r2).toMatchObject({ aiCalls: 1, cacheHits: 1 });
    expect(r2.outputs.get("block-0")!.text).toBe(uniq + " (new)");
    // another tone, model, domain, type or project is another cache entry
    const k = { project: "proj_000000000001", domain: "a.com", model: "m1", tone: "casual", blocks: [{ id: "block-0", type: "p", content: uniq }] };
    for (const other of [
      { tone: "premium" },
      { model: "m2" },
      { domain: "b.com" },
      { blocks: [{ id: "block-0", type: "h1", content: uniq }] },
      { blocks: [{ id: "block-0", type: "p", content: uniq + "!" }] },
      { project: "proj_000000000002" },
    ]) {
      expect(await requestCacheKey({ ...k, ...other }), JSON.stringify(other)).not.toBe(await requestCacheKey(k));
    }
    // expired entries are not served
    const later = new Date(now.getTime() + 31 * 86400000);
    const r3 = await optimizeBlocks(testEnv, store, prov, { ...req, blocks: [req.blocks[0]] }, () => later);
    expect(r3).toMatchObject({ aiCalls: 1, cacheHits: 0 });
    expect(calls).toBe(3);
  });
});
