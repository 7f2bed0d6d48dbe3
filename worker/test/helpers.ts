// Test fixtures: records in the shapes the desktop writes, and helpers to
// seed and read the KV bindings of the test Worker.
import { env } from "cloudflare:test";
import { canonical, sha256Hex } from "../src/canonical";
import type { Env } from "../src/env";
import type { BatchData, PageData, ProjectData, QueueItem } from "../src/types";

export const testEnv = env as unknown as Env;

let counter = 0;
/** A fresh project id per test, so tests sharing storage never collide. */
export function newProjectId(): string {
  counter++;
  const rand = Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, "0");
  return "proj_" + rand + counter.toString(16).padStart(6, "0");
}

export function pageIdOf(n: number): string {
  return "page_" + n.toString(16).padStart(12, "0");
}

export const BATCH = "batch_20261126_120000";
export const T0 = "2026-11-26T12:00:00.000Z";

export function project(id: string, settings: Partial<ProjectData["settings"]> = {}): ProjectData {
  return {
    project_id: id,
    user_id: "user_test",
    name: "example.com",
    created: T0,
    settings: {
      tone: "premium",
      max_pages_per_batch: 1000,
      default_concurrency: 2,
      ai_model: "gpt-test",
      domain: "example.com",
      ...settings,
    },
    usage: { total_pages: 0, total_batches: 0, last_activity: T0 },
  };
}

/**
 * A page record as the desktop pushes it. Its head has no title or meta
 * description unless `head` gives them: those are blocks too (the head
 * blocks), tested in their own cases, and the other suites count blocks.
 */
export function page(projectId: string, pageId: string, texts: string[], opts: Partial<PageData> = {}, head: Record<string, string> = { title: "" }): PageData {
  return {
    page_id: pageId,
    project_id: projectId,
    batch_id: BATCH,
    source_path: `dist/${pageId}.html`,
    uploaded: T0,
    extraction: {
      engine: "html",
      main_selector: "main",
      head,
      dimensions: { brand: "rolex" },
      above_fold_blocks: texts.slice(0, 1).map((t, i) => ({ id: `block-${i}`, type: "h1", content: t })),
      rest_of_page_blocks: texts.slice(1).map((t, i) => ({ id: `block-${i + 1}`, type: "p", content: t })),
      selector_map: {},
    },
    content_hash: "a".repeat(64),
    ...opts,
  };
}

/** Writes a record the way the desktop pushes it: canonical bytes plus {h,u} metadata. */
export async function put(ns: KVNamespace, key: string, value: unknown): Promise<void> {
  const bytes = canonical(key, value);
  await ns.put(key, bytes, { metadata: { h: await sha256Hex(bytes), u: T0 } });
}

export async function getJSON<T>(ns: KVNamespace, key: string): Promise<T | null> {
  const v = await ns.get(key, "text");
  return v === null ? null : (JSON.parse(v) as T);
}

export interface SeedOptions {
  pages: { id: string; texts: string[]; priority?: number; queued_at?: string; attempts?: number; head?: Record<string, string> }[];
  settings?: Partial<ProjectData["settings"]>;
}

/** Seeds a project, its pages, one batch and the queue, as `nimbus submit` would. */
export async function seedProject(opts: SeedOptions): Promise<string> {
  const pid = newProjectId();
  const e = testEnv;
  await put(e.NIMBUS_PROJECTS, `project:${pid}`, project(pid, opts.settings));
  const pages: BatchData["pages"] = {};
  const items: QueueItem[] = [];
  for (const p of opts.pages) {
    await put(e.NIMBUS_PAGES, `page:${pid}:${p.id}`, page(pid, p.id, p.texts, {}, p.head));
    pages[p.id] = { status: "queued", uploaded: T0 };
    items.push({ page_id: p.id, batch_id: BATCH, priority: p.priority ?? 5, queued_at: p.queued_at ?? T0, attempts: p.attempts ?? 0 });
    await put(e.NIMBUS_STATUS, `status:${pid}:${p.id}`, { status: "queued", batch_id: BATCH, updated: T0 });
  }
  await put(e.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`, {
    batch_id: BATCH,
    project_id: pid,
    created: T0,
    page_count: opts.pages.length,
    status: "queued",
    pages,
    summary: { completed: 0, failed: 0, pending: opts.pages.length, average_time_ms: 0 },
  });
  await put(e.NIMBUS_QUEUE, `queue:${pid}`, { items, last_processed: "" });
  return pid;
}
