#!/usr/bin/env node
// The local Cloudflare stack: Miniflare (pinned in package.json) runs the
// Nimbus Worker on workerd with its eleven KV namespaces persisted under a
// directory, with Miniflare's local explorer on. An adapter serves the
// Cloudflare REST shape the desktop's cloudflare-go client speaks
// (/client/v4/accounts/{id}/storage/kv/...) by forwarding to the explorer
// (/cdn-cgi/explorer/api in miniflare 4.20260426.x) and implementing only
// what the explorer lacks, on the same storage through Miniflare's
// getKVNamespace: bulk put, bulk delete, metadata get, bulk get with
// metadata, namespace create. A fake OpenAI-compatible server answers the
// Worker's AI calls.
//
//   node dev/stack.mjs --persist DIR [--port N] [--adapter-port N] [--ai-port N]
//        [--ai-fail-rate 0.5] [--ai-seed 1] [--ai-latency-ms MS] [--process-every SECONDS]
//        [--fanout queues|cron] [--ai-budget REQUESTS_PER_MINUTE] [--kv-stale-seconds N]
//
// --kv-stale-seconds N (default 0: off) makes KV eventually consistent, as
// on Cloudflare, where a read can return a value up to about 60 s old:
//   - REST side (dev/stale-kv.mjs): the adapter answers value gets, bulk
//     gets, metadata gets and key listings from a cache per API token (a
//     token is a location): a version once read is served for N seconds
//     however the key changes meanwhile, missing keys included, listings
//     apart from values; a token's own writes do not refresh its cache (no
//     read-your-writes); writes reach the store at once;
//   - Worker side (src/stalekv.ts, KV_STALE_SECONDS): the Worker's reads go
//     through one cache per isolate (its location) with the same TTL; what
//     the Worker writes is visible to its own later reads at once (as in
//     the location that wrote), what the desktops write is not until the
//     entry expires.
// It lacks: staleness without a hard bound (here every write is visible
// everywhere N seconds later at the latest, and at once to a reader that
// held no entry), early eviction, background refresh of hot keys, and
// locations between the Worker's isolates (Miniflare runs the cron, the
// consumers and the Durable Objects in one process). GET /__stack/stale on
// the adapter counts the stale answers of the REST side. The coordinator
// checks a finished page's status back (STATUS_VERIFY_S) 2N+2 s after it
// finished (120 s, production's, when staleness is off).
//
// It prints NIMBUS_CF_API_BASE=..., NIMBUS_WORKER_URL=..., NIMBUS_PROCESS_SECRET=...
// (also written to DIR/stack.env) and runs until SIGINT/SIGTERM.
// `npx wrangler kv key list --local --persist-to DIR --binding NIMBUS_PAGES`
// reads the same persisted state (the namespace ids are wrangler.jsonc's).

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { startFakeAI } from "./fake-ai.mjs";
import { fetchRetry } from "./net.mjs";
import { createStaleReads } from "./stale-kv.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const workerDir = path.resolve(here, "..");
const EXPLORER = "/cdn-cgi/explorer/api";
const ADMIN = "nimbus-kv-admin";

/** Reads wrangler.jsonc (JSON with comments) for the KV bindings and their ids. */
export function readWranglerConfig(file = path.join(workerDir, "wrangler.jsonc")) {
  const text = fs.readFileSync(file, "utf8");
  // Strip // and /* */ comments outside strings.
  let out = "";
  for (let i = 0, inStr = false; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === "\\") out += text[++i];
      else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2) + 1;
    } else out += c;
  }
  const cfg = JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
  return cfg;
}

async function bundleWorker(outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, "worker.mjs");
  await build({
    entryPoints: [path.join(workerDir, "src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    outfile,
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
  return outfile;
}

function envelope(result, extra = {}) {
  return { success: true, errors: [], messages: [], result, ...extra };
}

function cfError(status, code, message) {
  return { status, body: { success: false, errors: [{ code, message }], messages: [], result: null } };
}

function sendJSON(res, status, body) {
  const b = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(b) });
  res.end(b);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Starts the stack. Returns { workerURL, apiBase, accountId, aiURL,
 * processSecret, mf, ai, process(project?), stop() }.
 */
export async function startStack(opts = {}) {
  const persist = path.resolve(opts.persist ?? path.join(workerDir, ".mf", "state"));
  fs.mkdirSync(persist, { recursive: true });
  const log = opts.log ?? ((...a) => console.error("[stack]", ...a));
  const processSecret = opts.processSecret ?? randomBytes(16).toString("hex");
  const accountId = opts.accountId ?? "0123456789abcdef0123456789abcdef";

  const cfg = readWranglerConfig(opts.wranglerConfig);
  const kvNamespaces = Object.fromEntries(cfg.kv_namespaces.map((n) => [n.binding, n.id]));
  if (Object.keys(kvNamespaces).length !== 11) throw new Error(`wrangler.jsonc: want 11 KV bindings, found ${Object.keys(kvNamespaces).length}`);
  // Namespaces created through the adapter live on in DIR/namespaces.json.
  const createdFile = path.join(persist, "namespaces.json");
  const created = fs.existsSync(createdFile) ? JSON.parse(fs.readFileSync(createdFile, "utf8")) : {};

  const ai = opts.aiURL
    ? null
    : await startFakeAI({ port: opts.aiPort ?? 0, failRate: opts.aiFailRate ?? 0, seed: opts.aiSeed ?? 1, latencyMs: opts.aiLatencyMs ?? 0 });
  const aiURL = opts.aiURL ?? ai.url;
  const scriptPath = await bundleWorker(path.join(persist, ".build"));

  const vars = {
    ...(cfg.vars ?? {}),
    AI_PROVIDER: opts.aiProvider ?? "openai",
    AI_BASE_URL: aiURL,
    AI_API_KEY: "sk-fake-local",
    AI_TIMEOUT_MS: String(opts.aiTimeoutMs ?? 10000),
    AI_RETRIES: String(opts.aiRetries ?? 0),
    MAX_PAGES_PER_RUN: String(opts.maxPagesPerRun ?? 100),
    // Cloudflare's limits, as in production: 1,000 KV operations per
    // invocation (the Worker's Store refuses the next one) and one write
    // per second per key (the Store spaces them).
    KV_OPS_LIMIT: String(opts.kvOpsLimit ?? 1000),
    KV_MIN_WRITE_INTERVAL_MS: String(opts.kvWriteIntervalMs ?? 1000),
    LEASE_MS: String(opts.leaseMs ?? 120000),
    // "queues" (the default, as deployed): the cron fans out on the page
    // queue below; "cron": the old in-cron processor (bench-worker measures both).
    FANOUT: opts.fanout ?? cfg.vars?.FANOUT ?? "queues",
    AI_REQUESTS_PER_MINUTE: String(opts.aiBudget ?? cfg.vars?.AI_REQUESTS_PER_MINUTE ?? 600),
    // Backoff base of retried messages: 2 s here so a failing run settles
    // in seconds (production: 10 s, wrangler.jsonc).
    QUEUE_RETRY_BASE_S: String(opts.retryBaseS ?? 2),
    PROCESS_SECRET: processSecret,
    // Eventual consistency of the Worker's own reads (src/stalekv.ts).
    KV_STALE_SECONDS: String(opts.kvStaleSeconds ?? 0),
    // When the coordinator checks a finished page's status back: past the
    // staleness window (twice it, so its own cached write has expired too),
    // or production's 120 s when reads are fresh.
    STATUS_VERIFY_S: String(opts.statusVerifyS ?? (opts.kvStaleSeconds > 0 ? 2 * opts.kvStaleSeconds + 2 : 120)),
  };
  if (opts.queueConcurrency) vars.QUEUE_CONCURRENCY = String(opts.queueConcurrency);
  if (opts.dispatchMax) vars.DISPATCH_MAX_PER_RUN = String(opts.dispatchMax);
  // The page queue and its dead-letter queue, and the two Durable Objects,
  // exactly as wrangler.jsonc declares them. Miniflare's queue broker
  // delivers batches (max_batch_size, max_batch_timeout), honours
  // message.retry({delaySeconds}) and max_retries, and moves exhausted
  // messages to the dead-letter queue, as Cloudflare does. What it lacks:
  // it delivers one batch at a time per queue (Cloudflare runs up to
  // max_concurrency consumer invocations at once), and it keeps messages
  // in memory (a restart of the stack loses those in flight; the leases
  // then expire and the cron sends them again).
  const queueProducers = Object.fromEntries((cfg.queues?.producers ?? []).map((p) => [p.binding, { queueName: p.queue }]));
  const queueConsumers = Object.fromEntries(
    (cfg.queues?.consumers ?? []).map((c) => [
      c.queue,
      {
        maxBatchSize: c.max_batch_size,
        maxBatchTimeout: c.max_batch_timeout,
        maxRetries: c.max_retries,
        deadLetterQueue: c.dead_letter_queue,
      },
    ]),
  );
  const durableObjects = Object.fromEntries((cfg.durable_objects?.bindings ?? []).map((b) => [b.name, b.class_name]));
  const mfOptions = () => ({
    host: "127.0.0.1",
    port: opts.port ?? 0,
    unsafeLocalExplorer: true,
    // quietWorker: the Worker's console output is dropped (the bench's
    // consumers log a line per invocation).
    ...(opts.quietWorker ? { handleRuntimeStdio: (out, err) => (out.resume(), err.resume()) } : {}),
    kvPersist: path.join(persist, "v3", "kv"),
    durableObjectsPersist: path.join(persist, "v3", "do"),
    workers: [
      {
        name: cfg.name ?? "nimbus-worker",
        modules: true,
        scriptPath,
        modulesRoot: path.dirname(scriptPath),
        compatibilityDate: cfg.compatibility_date,
        kvNamespaces,
        bindings: vars,
        queueProducers,
        queueConsumers,
        durableObjects,
      },
      {
        // Binds every namespace (also ones created through the adapter) so
        // the adapter can reach them with getKVNamespace.
        name: ADMIN,
        modules: true,
        script: `export default { fetch() { return new Response("nimbus kv admin", { status: 404 }); } }`,
        compatibilityDate: cfg.compatibility_date,
        kvNamespaces: { ...kvNamespaces, ...created },
      },
    ],
  });
  const mf = new Miniflare(mfOptions());
  const workerURL = (await mf.ready).href.replace(/\/$/, "");
  const explorer = workerURL + EXPLORER;

  const bindingOf = (nsId) => {
    for (const [b, id] of Object.entries({ ...kvNamespaces, ...created })) if (id === nsId) return b;
    return null;
  };
  const kvFor = async (nsId) => {
    const b = bindingOf(nsId);
    return b ? mf.getKVNamespace(b, ADMIN) : null;
  };

  // Read staleness of the REST side (--kv-stale-seconds; dev/stale-kv.mjs).
  const stale = createStaleReads({ seconds: opts.kvStaleSeconds ?? 0, now: opts.clock });
  const readerOf = (req) => req.headers.authorization ?? "x-auth-key:" + (req.headers["x-auth-key"] ?? "");
  const readItem = (kv) => async (key) => {
    const r = await kv.getWithMetadata(key, "arrayBuffer");
    return r.value === null ? null : { value: Buffer.from(r.value), metadata: r.metadata ?? null };
  };
  const readListing = (kv, prefix) => async () => {
    const keys = [];
    let cursor;
    for (;;) {
      const r = await kv.list({ prefix, cursor, limit: 1000 });
      for (const k of r.keys) {
        const o = { name: k.name };
        if (k.expiration !== undefined) o.expiration = k.expiration;
        if (k.metadata !== undefined) o.metadata = k.metadata;
        keys.push(o);
      }
      if (r.list_complete) return keys;
      cursor = r.cursor;
    }
  };

  async function staleValue(req, nsId, key) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "get: 'namespace not found'");
    const it = await stale.get(readerOf(req), nsId, key, readItem(kv));
    if (!it) return cfError(404, 10009, "get: 'key not found'");
    return { status: 200, raw: it.value };
  }

  async function staleMetadata(req, nsId, key) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "metadata: 'namespace not found'");
    const it = await stale.get(readerOf(req), nsId, key, readItem(kv));
    if (!it) return cfError(404, 10009, "get: 'key not found'");
    return { status: 200, body: envelope(it.metadata ?? null) };
  }

  async function staleBulkGet(req, nsId, parsed) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "bulk get: 'namespace not found'");
    if (!Array.isArray(parsed.keys) || parsed.keys.length > 100) return cfError(400, 10026, "bulk get: keys must be an array of at most 100");
    const values = {};
    for (const k of parsed.keys) {
      const it = await stale.get(readerOf(req), nsId, String(k), readItem(kv));
      if (!it) {
        values[k] = null;
        continue;
      }
      let v = it.value.toString("utf8");
      if (parsed.type === "json") {
        try {
          v = JSON.parse(v);
        } catch {
          return cfError(400, 10020, `bulk get: value of ${k} is not JSON`);
        }
      }
      values[k] = parsed.withMetadata ? { value: v, metadata: it.metadata ?? null } : v;
    }
    return { status: 200, body: envelope({ values }) };
  }

  async function staleList(req, nsId, url) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "list keys: 'namespace not found'");
    const prefix = url.searchParams.get("prefix") ?? "";
    const limitRaw = url.searchParams.get("limit");
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 10 || limit > 1000) return cfError(400, 10026, "list keys: limit must be 10-1000");
    const page = await stale.list(readerOf(req), nsId, prefix, { cursor: url.searchParams.get("cursor") ?? "", limit }, readListing(kv, prefix));
    if (page.error) return cfError(400, 10026, `list keys: ${page.error}`);
    return { status: 200, body: envelope(page.keys, { result_info: { count: page.keys.length, cursor: page.cursor } }) };
  }

  async function proxy(req, res, subpath, search, body) {
    const headers = {};
    if (req.headers["content-type"]) headers["content-type"] = req.headers["content-type"];
    const r = await fetchRetry(explorer + subpath + search, {
      method: req.method,
      headers,
      body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
    });
    const buf = Buffer.from(await r.arrayBuffer());
    const h = { "content-length": buf.length };
    const ct = r.headers.get("content-type");
    if (ct) h["content-type"] = ct;
    res.writeHead(r.status, h);
    res.end(buf);
  }

  async function listNamespaces(url) {
    const r = await fetchRetry(explorer + "/storage/kv/namespaces");
    const env = await r.json();
    const seen = new Map();
    for (const n of env.result ?? []) if (!seen.has(n.id)) seen.set(n.id, n);
    // The explorer titles a namespace by its binding; the admin worker binds
    // the same ids, so de-duplicate by id.
    const all = [...seen.values()].sort((a, b) => (a.title < b.title ? -1 : 1));
    const perPage = Math.max(1, Math.min(1000, Number(url.searchParams.get("per_page")) || 20));
    const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
    const slice = all.slice((page - 1) * perPage, page * perPage);
    return envelope(slice, { result_info: { page, per_page: perPage, count: slice.length, total_count: all.length } });
  }

  async function createNamespace(body) {
    let title;
    try {
      title = JSON.parse(body.toString("utf8")).title;
    } catch {
      return cfError(400, 10026, "request body is not JSON");
    }
    if (typeof title !== "string" || title === "") return cfError(400, 10019, "title is required");
    const all = { ...kvNamespaces, ...created };
    if (all[title]) return cfError(400, 10014, "a namespace with this account ID and title already exists");
    if (!IDENT.test(title)) return cfError(400, 10019, `local stack: title ${JSON.stringify(title)} must be a JS identifier (it becomes a binding name)`);
    const id = randomBytes(16).toString("hex");
    created[title] = id;
    fs.writeFileSync(createdFile, JSON.stringify(created, null, 2));
    await mf.setOptions(mfOptions());
    return { status: 200, body: envelope({ id, title, supports_url_encoding: true }) };
  }

  async function bulkPut(nsId, body) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "bulk put: 'namespace not found'");
    let pairs;
    try {
      pairs = JSON.parse(body.toString("utf8"));
    } catch {
      return cfError(400, 10026, "bulk put: body is not a JSON array");
    }
    if (!Array.isArray(pairs)) return cfError(400, 10026, "bulk put: body is not a JSON array");
    if (pairs.length > 10000) return cfError(400, 10028, "bulk put: more than 10,000 pairs");
    const unsuccessful = [];
    let ok = 0;
    for (const p of pairs) {
      const key = p?.key;
      const meta = p?.metadata;
      if (typeof key !== "string" || key === "" || Buffer.byteLength(key) > 512 || typeof p.value !== "string") {
        unsuccessful.push(String(key));
        continue;
      }
      if (meta !== undefined && Buffer.byteLength(JSON.stringify(meta)) > 1024) {
        unsuccessful.push(key);
        continue;
      }
      const value = p.base64 ? new Uint8Array(Buffer.from(p.value, "base64")) : p.value;
      const o = {};
      if (meta !== undefined && meta !== null) o.metadata = meta;
      if (p.expiration) o.expiration = Number(p.expiration);
      if (p.expiration_ttl) o.expirationTtl = Number(p.expiration_ttl);
      try {
        await kv.put(key, value, o);
        ok++;
      } catch (e) {
        log(`bulk put ${key}: ${e.message}`);
        unsuccessful.push(key);
      }
    }
    return { status: 200, body: envelope({ successful_key_count: ok, unsuccessful_keys: unsuccessful }) };
  }

  async function bulkDelete(nsId, body) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "bulk delete: 'namespace not found'");
    const keys = JSON.parse(body.toString("utf8"));
    if (!Array.isArray(keys)) return cfError(400, 10026, "bulk delete: body is not a JSON array of keys");
    for (const k of keys) await kv.delete(String(k));
    return { status: 200, body: envelope({ successful_key_count: keys.length, unsuccessful_keys: [] }) };
  }

  async function getMetadata(nsId, key) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "metadata: 'namespace not found'");
    const r = await kv.getWithMetadata(key, "text");
    if (r.value === null) return cfError(404, 10009, "get: 'key not found'");
    return { status: 200, body: envelope(r.metadata ?? null) };
  }

  async function bulkGetWithMetadata(nsId, req) {
    const kv = await kvFor(nsId);
    if (!kv) return cfError(404, 10013, "bulk get: 'namespace not found'");
    if (!Array.isArray(req.keys) || req.keys.length > 100) return cfError(400, 10026, "bulk get: keys must be an array of at most 100");
    const values = {};
    for (const k of req.keys) {
      const r = await kv.getWithMetadata(String(k), "text");
      if (r.value === null) {
        values[k] = null;
        continue;
      }
      let v = r.value;
      if (req.type === "json") {
        try {
          v = JSON.parse(r.value);
        } catch {
          return cfError(400, 10020, `bulk get: value of ${k} is not JSON`);
        }
      }
      values[k] = { value: v, metadata: r.metadata ?? null };
    }
    return { status: 200, body: envelope({ values }) };
  }

  const route = /^\/client\/v4\/accounts\/([^/]+)\/storage\/kv\/namespaces(\/.*)?$/;
  const adapter = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://adapter");
      if (url.pathname === "/__stack/stale" && req.method === "GET") return sendJSON(res, 200, stale.stats());
      const m = route.exec(url.pathname);
      if (!m) return sendJSON(res, 404, cfError(404, 7003, `no route ${url.pathname}`).body);
      if (!req.headers.authorization && !req.headers["x-auth-key"]) {
        return sendJSON(res, 403, cfError(403, 10000, "Authentication error").body);
      }
      if (m[1] !== accountId && !opts.anyAccount) {
        return sendJSON(
          res,
          403,
          cfError(403, 10000, `Authentication error: unknown account ${m[1]}; the local stack's account is ${accountId} (CLOUDFLARE_ACCOUNT_ID in ${path.join(persist, "stack.env")})`).body,
        );
      }
      const sub = m[2] ?? "";
      const body = await readBody(req);
      let out = null;
      let mm;
      if (sub === "" || sub === "/") {
        if (req.method === "GET") out = { status: 200, body: await listNamespaces(url) };
        else if (req.method === "POST") out = await createNamespace(body);
      } else if ((mm = /^\/([^/]+)\/bulk$/.exec(sub)) && req.method === "PUT") {
        out = await bulkPut(decodeURIComponent(mm[1]), body);
      } else if ((mm = /^\/([^/]+)\/bulk\/delete$/.exec(sub)) && req.method === "POST") {
        out = await bulkDelete(decodeURIComponent(mm[1]), body);
      } else if ((mm = /^\/([^/]+)\/metadata\/(.+)$/.exec(sub)) && req.method === "GET") {
        if (stale.enabled) out = await staleMetadata(req, decodeURIComponent(mm[1]), decodeURIComponent(mm[2]));
        else out = await getMetadata(decodeURIComponent(mm[1]), decodeURIComponent(mm[2]));
      } else if ((mm = /^\/([^/]+)\/bulk\/get$/.exec(sub)) && req.method === "POST") {
        let parsed = {};
        try {
          parsed = JSON.parse(body.toString("utf8"));
        } catch {
          out = cfError(400, 10026, "bulk get: body is not JSON");
        }
        if (!out && stale.enabled) out = await staleBulkGet(req, decodeURIComponent(mm[1]), parsed);
        // The explorer answers bulk get without metadata even when asked for it.
        else if (!out && parsed.withMetadata) out = await bulkGetWithMetadata(decodeURIComponent(mm[1]), parsed);
      } else if (stale.enabled && (mm = /^\/([^/]+)\/values\/(.+)$/.exec(sub)) && req.method === "GET") {
        out = await staleValue(req, decodeURIComponent(mm[1]), decodeURIComponent(mm[2]));
      } else if (stale.enabled && (mm = /^\/([^/]+)\/keys$/.exec(sub)) && req.method === "GET") {
        out = await staleList(req, decodeURIComponent(mm[1]), url);
      }
      if (out?.raw) {
        res.writeHead(out.status, { "content-type": "application/octet-stream", "content-length": out.raw.length });
        return res.end(out.raw);
      }
      if (out) return sendJSON(res, out.status, out.body);
      await proxy(req, res, "/storage/kv/namespaces" + sub, url.search, body);
    } catch (e) {
      log(`adapter ${req.method} ${req.url}: ${e.stack ?? e}`);
      if (!res.headersSent) sendJSON(res, 500, cfError(500, 10001, `local stack adapter: ${e.message}`).body);
      else res.end();
    }
  });
  await new Promise((r) => adapter.listen(opts.adapterPort ?? 0, "127.0.0.1", r));
  const adapterURL = `http://127.0.0.1:${adapter.address().port}`;
  const apiBase = adapterURL + "/client/v4/";

  async function triggerProcess(project, { wait } = {}) {
    const params = new URLSearchParams();
    if (project) params.set("project", project);
    if (wait !== undefined) params.set("wait", String(wait));
    const q = params.size ? `?${params}` : "";
    const r = await fetch(workerURL + "/__process" + q, { method: "POST", headers: { "x-nimbus-process-secret": processSecret } });
    const text = await r.text();
    if (!r.ok) throw new Error(`POST /__process: HTTP ${r.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }

  let timer = null;
  if (opts.processEvery > 0) {
    let busy = false;
    timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const rep = await triggerProcess();
        for (const p of rep.projects) if (p.picked) log(`processed ${p.project_id}: ${p.done} done, ${p.failed} failed, ${p.retried} retried, ${p.remaining} remaining`);
      } catch (e) {
        log(`process: ${e.message}`);
      } finally {
        busy = false;
      }
    }, opts.processEvery * 1000);
  }

  const envText =
    `NIMBUS_CF_API_BASE=${apiBase}\n` +
    `CLOUDFLARE_ACCOUNT_ID=${accountId}\n` +
    `CLOUDFLARE_API_TOKEN=local-stack-token\n` +
    `NIMBUS_WORKER_URL=${workerURL}\n` +
    `NIMBUS_PROCESS_SECRET=${processSecret}\n` +
    `NIMBUS_AI_URL=${aiURL}\n` +
    `NIMBUS_STACK_PERSIST=${persist}\n`;
  fs.writeFileSync(path.join(persist, "stack.env"), envText);

  let stopped = false;
  return {
    workerURL,
    apiBase,
    accountId,
    aiURL,
    processSecret,
    persist,
    envText,
    mf,
    ai,
    process: triggerProcess,
    /** What the REST side's read caches did (--kv-stale-seconds). */
    staleStats: () => stale.stats(),
    /** The account's invocation statistics (KV operations per consumer, fold and dispatch invocation). */
    async stats() {
      const r = await fetch(workerURL + "/__stats", { headers: { "x-nimbus-process-secret": processSecret } });
      if (!r.ok) throw new Error(`GET /__stats: HTTP ${r.status}`);
      return r.json();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      await new Promise((r) => adapter.close(() => r()));
      adapter.closeAllConnections?.();
      await mf.dispose();
      if (ai) await ai.close();
    },
  };
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--persist":
        o.persist = val();
        break;
      case "--port":
        o.port = Number(val());
        break;
      case "--adapter-port":
        o.adapterPort = Number(val());
        break;
      case "--ai-port":
        o.aiPort = Number(val());
        break;
      case "--ai-fail-rate":
        o.aiFailRate = Number(val());
        break;
      case "--ai-seed":
        o.aiSeed = Number(val());
        break;
      case "--ai-url":
        o.aiURL = val();
        break;
      case "--process-every":
        o.processEvery = Number(val());
        break;
      case "--fanout":
        o.fanout = val();
        break;
      case "--ai-budget":
        o.aiBudget = Number(val());
        break;
      case "--ai-latency-ms":
        o.aiLatencyMs = Number(val());
        break;
      case "--max-pages-per-run":
        o.maxPagesPerRun = Number(val());
        break;
      case "--account":
        o.accountId = val();
        break;
      case "--kv-stale-seconds":
        o.kvStaleSeconds = Number(val());
        if (!(o.kvStaleSeconds >= 0)) throw new Error("--kv-stale-seconds wants a number of seconds >= 0");
        break;
      case "-h":
      case "--help":
        console.log(fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 42).join("\n"));
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  const stack = await startStack(opts);
  process.stdout.write(stack.envText);
  console.error(`[stack] ready; state in ${stack.persist}; Ctrl-C stops`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
