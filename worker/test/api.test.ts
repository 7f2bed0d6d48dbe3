import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../src/canonical";
import type { KeyData } from "../src/types";
import { BATCH, getJSON, pageIdOf, put, seedProject, testEnv } from "./helpers";

const env = testEnv;

async function newKey(active = true, extra: Partial<KeyData> = {}): Promise<{ key: string; hashKey: string }> {
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const key = "sk_live_" + hex;
  const hashKey = "apikey:sha256:" + (await sha256Hex(key));
  await put(env.NIMBUS_KEYS, hashKey, {
    user_id: "user_test",
    created: "2026-11-01T00:00:00.000Z",
    last_used: "",
    active,
    name: "Test Key",
    usage: { requests_today: 0, requests_total: 0 },
    ...extra,
  });
  return { key, hashKey };
}

function get(path: string, key?: string) {
  return SELF.fetch("https://nimbus.test" + path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
}

describe("API", () => {
  it("401 without, with malformed, or with unknown keys; JSON errors", async () => {
    const pid = await seedProject({ pages: [{ id: pageIdOf(1), texts: ["a"] }] });
    for (const k of [undefined, "sk_live_nothex", "sk_live_" + "0".repeat(32)]) {
      const r = await get(`/v1/projects/${pid}/batches/${BATCH}`, k);
      expect(r.status, String(k)).toBe(401);
      expect(r.headers.get("content-type")).toContain("application/json");
      expect(((await r.json()) as any).error.code).toBe("unauthorized");
    }
  });

  it("403 for an inactive key, without counting usage", async () => {
    const pid = await seedProject({ pages: [{ id: pageIdOf(1), texts: ["a"] }] });
    const { key, hashKey } = await newKey(false);
    const r = await get(`/v1/projects/${pid}/batches/${BATCH}`, key);
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error.code).toBe("key_inactive");
    expect((await getJSON<KeyData>(env.NIMBUS_KEYS, hashKey))!.usage.requests_total).toBe(0);
  });

  it("reads a batch and a page status, counting usage per request", async () => {
    const p1 = pageIdOf(1);
    const pid = await seedProject({ pages: [{ id: p1, texts: ["a"] }] });
    const { key, hashKey } = await newKey(true, {
      last_used: "2020-01-01T00:00:00.000Z",
      usage: { requests_today: 40, requests_total: 100 },
    });
    const rb = await get(`/v1/projects/${pid}/batches/${BATCH}`, key);
    expect(rb.status).toBe(200);
    const b = (await rb.json()) as any;
    expect(b).toMatchObject({ batch_id: BATCH, project_id: pid, status: "queued" });
    const rs = await get(`/v1/projects/${pid}/pages/${p1}/status`, key);
    expect(rs.status).toBe(200);
    expect(await rs.json()).toMatchObject({ page_id: p1, status: "queued", batch_id: BATCH });
    const k = (await getJSON<KeyData>(env.NIMBUS_KEYS, hashKey))!;
    // a new day restarts requests_today; the total keeps counting
    expect(k.usage).toEqual({ requests_today: 2, requests_total: 102 });
    expect(Date.now() - Date.parse(k.last_used)).toBeLessThan(60000);
    const meta = await env.NIMBUS_KEYS.getWithMetadata<{ h: string }>(hashKey);
    expect(meta.metadata!.h).toBe(await sha256Hex(meta.value!));
  });

  it("404 for unknown routes, batches, pages and other users' projects", async () => {
    const pid = await seedProject({ pages: [{ id: pageIdOf(1), texts: ["a"] }] });
    const { key } = await newKey();
    expect((await get(`/v1/projects/${pid}/batches/batch_20000101_000000`, key)).status).toBe(404);
    expect((await get(`/v1/projects/${pid}/pages/${pageIdOf(999)}/status`, key)).status).toBe(404);
    expect((await get(`/v1/projects/proj_ffffffffffff/batches/${BATCH}`, key)).status).toBe(404);
    expect((await get(`/v1/nothing`, key)).status).toBe(404);
    const other = await newKey(true, { user_id: "user_other" });
    const r = await get(`/v1/projects/${pid}/batches/${BATCH}`, other.key);
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.code).toBe("not_found");
  });

  it("POST /__process needs the secret", async () => {
    const r1 = await SELF.fetch("https://nimbus.test/__process", { method: "POST" });
    expect(r1.status).toBe(403);
    const pid = await seedProject({ pages: [{ id: pageIdOf(3), texts: ["good"] }] });
    const r2 = await SELF.fetch(`https://nimbus.test/__process?project=${pid}`, {
      method: "POST",
      headers: { "x-nimbus-process-secret": "test-process-secret" },
    });
    expect(r2.status).toBe(200);
    expect(((await r2.json()) as any).projects[0]).toMatchObject({ project_id: pid, done: 1 });
  });
});
