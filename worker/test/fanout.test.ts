// The fan-out on Cloudflare Queues: the cron's dispatch (leases in the
// ProjectCoordinator), the consumer (message.retry with Retry-After or
// backoff), the fold into batch: and queue:, the AI budget, the dead-letter
// queue. The producer is a recording fake of a Queue binding (below) so a
// test decides when and how often each message is delivered; the
// Durable Objects, KV and the Store's operation limit are the real ones of
// workerd.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { accountStub, projectStub } from "../src/coordinator";
import type { Env, PageMessage } from "../src/env";
import { backoffSeconds, consume, deadLetter, dispatch, retryDelaySeconds } from "../src/fanout";
import worker from "../src/index";
import { localRewrite } from "../src/provider/local";
import { OpenAIProvider } from "../src/provider/openai";
import { ProcessError, type OptimizeRequest, type Provider } from "../src/provider/types";
import type { BatchData, QueueData, StatusData } from "../src/types";
import { BATCH, getJSON, pageIdOf, put, seedProject, T0, testEnv } from "./helpers";

/**
 * A recording producer. Like a real Queue binding it refuses a sendBatch of
 * more than 100 messages; unlike one it delivers nothing by itself (the
 * test hands the messages to the consumer), keeps no backlog limits and
 * never loses or duplicates a message unless the test does.
 */
class RecordingQueue {
  sent: PageMessage[] = [];
  calls = 0;
  async send(body: PageMessage): Promise<void> {
    this.calls++;
    this.sent.push(body);
  }
  async sendBatch(msgs: Iterable<MessageSendRequest<PageMessage>>): Promise<void> {
    const list = [...msgs];
    if (list.length > 100) throw new Error("Queues: sendBatch takes at most 100 messages");
    this.calls++;
    for (const m of list) this.sent.push(m.body);
  }
  take(): PageMessage[] {
    const out = this.sent;
    this.sent = [];
    return out;
  }
}

class SlowProvider implements Provider {
  readonly name = "slow";
  calls: OptimizeRequest[] = [];
  constructor(
    private readonly delayMs = 0,
    private readonly fail: (req: OptimizeRequest) => ProcessError | null = () => null,
  ) {}
  async optimize(req: OptimizeRequest): Promise<unknown> {
    this.calls.push(req);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const f = this.fail(req);
    if (f) throw f;
    return { blocks: req.blocks.map((b) => ({ id: b.id, text: localRewrite(b.content, b.type, req.tone), confidence: 0.9 })) };
  }
}

function fanEnv(q: RecordingQueue, extra: Partial<Env> = {}): Env {
  return { ...testEnv, FANOUT: "queues", PAGE_QUEUE: q as unknown as Queue<PageMessage>, AI_REQUESTS_PER_MINUTE: "100000", ...extra };
}

let msgSeq = 0;
function batchOf(msgs: PageMessage[], attempts = 1, queue = "nimbus-pages") {
  return createMessageBatch<PageMessage>(
    queue,
    msgs.map((body) => ({ id: `msg-${++msgSeq}`, timestamp: new Date(), attempts, body })),
  );
}

/**
 * The test pool's MessageBatch (vitest-pool-workers 0.15.1) records that a
 * message was retried but drops its delaySeconds; this wrapper records the
 * options each message.retry() was called with and passes the call on.
 */
function spied(b: MessageBatch<PageMessage>) {
  const delays: Record<string, number | undefined> = {};
  const messages = b.messages.map((m) => ({
    id: m.id,
    timestamp: m.timestamp,
    body: m.body,
    attempts: m.attempts,
    ack: () => m.ack(),
    retry: (o?: QueueRetryOptions) => {
      delays[m.id] = o?.delaySeconds;
      m.retry(o);
    },
  }));
  const batch = { queue: b.queue, metadata: b.metadata, messages, ackAll: () => b.ackAll(), retryAll: (o?: QueueRetryOptions) => b.retryAll(o) };
  return { batch: batch as unknown as MessageBatch<PageMessage>, delays };
}

async function deliver(env: Env, msgs: PageMessage[], provider: Provider, attempts = 1) {
  const b = batchOf(msgs, attempts);
  const { batch, delays } = spied(b);
  const rep = await consume(batch, env, { provider });
  const res = await getQueueResult(b, createExecutionContext());
  const retried: { msgId: string; delaySeconds: number | undefined }[] = res.retryMessages.map((m: { msgId: string }) => ({ msgId: m.msgId, delaySeconds: delays[m.msgId] }));
  return { rep, res, retried, ids: b.messages.map((m) => m.id) };
}

const pages = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ id: pageIdOf(base + i), texts: [`Heading ${i}`, `We offer good service ${i}.`] }));

describe("fan-out on Queues", () => {
  it("two overlapping cron runs with slow AI answers: each page is sent once and gets exactly one AI request", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(10, 100) });
    const [a, b] = await Promise.all([dispatch(env, { project: pid }), dispatch(env, { project: pid })]);
    expect(a.sent + b.sent).toBe(10);
    const msgs = q.take();
    expect(new Set(msgs.map((m) => m.item.page_id)).size).toBe(10);
    // a third run while the leases hold sends nothing
    const c = await dispatch(env, { project: pid });
    expect(c.sent).toBe(0);
    expect(c.projects[0].busy).toBe(10);

    const prov = new SlowProvider(300);
    // the two runs' messages delivered at once, plus a duplicate delivery of one (Queues deliver at least once)
    const [r1, r2, r3] = await Promise.all([deliver(env, msgs.slice(0, 5), prov), deliver(env, msgs.slice(5), prov), deliver(env, [msgs[0]], prov)]);
    expect(prov.calls).toHaveLength(10);
    expect(r1.rep.done + r2.rep.done + r3.rep.done).toBe(10);
    // the duplicate is acknowledged without work, or sent back while the first delivery runs
    expect(r3.rep.done).toBe(0);

    await projectStub(env, pid).fold();
    const bt = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
    expect(bt.status).toBe("completed");
    expect(bt.summary).toMatchObject({ completed: 10, failed: 0, pending: 0 });
    const qu = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
    expect(qu.items).toEqual([]);
    // a late redelivery of a finished message costs nothing
    const late = await deliver(env, [msgs[3]], prov, 2);
    expect(late.rep.stale).toBe(1);
    expect(prov.calls).toHaveLength(10);
  });

  it("a 429 with Retry-After: 5 then success: message.retry asks for 5 s, the item stays leased meanwhile, and the page ends done", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(1, 200) });
    let n = 0;
    const prov = new OpenAIProvider({
      baseURL: "http://ai.test/v1",
      timeoutMs: 5000,
      retries: 0,
      maxRetryAfterMs: 0,
      fetch: (async (_u: string, init: RequestInit) => {
        n++;
        if (n === 1) return new Response(JSON.stringify({ error: { message: "rate limited" } }), { status: 429, headers: { "retry-after": "5" } });
        const body = JSON.parse(String(init.body));
        const blocks = JSON.parse(body.messages[1].content).blocks.map((b: any) => ({ id: b.id, text: b.text + " Now better.", confidence: 0.9 }));
        return new Response(JSON.stringify({ choices: [{ message: { role: "assistant", content: JSON.stringify({ blocks }) } }] }), { status: 200 });
      }) as typeof fetch,
    });
    await dispatch(env, { project: pid });
    const [msg] = q.take();
    const first = await deliver(env, [msg], prov);
    expect(first.rep.retried).toBe(1);
    expect(first.retried).toEqual([{ msgId: first.ids[0], delaySeconds: 5 }]);
    const st1 = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${pageIdOf(200)}`))!;
    expect(st1).toMatchObject({ status: "processing", processing: { current_step: "retry_wait" } });
    // the cron does not send it again while its retry is pending
    expect((await dispatch(env, { project: pid })).sent).toBe(0);
    await projectStub(env, pid).fold();
    const qu = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
    expect(qu.items![0].attempts).toBe(1);

    const second = await deliver(env, [msg], prov, 2);
    expect(second.rep.done).toBe(1);
    expect(second.retried).toEqual([]);
    expect(n).toBe(2);
    const st2 = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${pageIdOf(200)}`))!;
    expect(st2.status).toBe("done");
    await projectStub(env, pid).fold();
    expect((await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!.status).toBe("completed");
  });

  it("without Retry-After a retry backs off exponentially with jitter; after MAX_ATTEMPTS the page fails", async () => {
    expect(backoffSeconds(1, 10, () => 0)).toBe(5);
    expect(backoffSeconds(1, 10, () => 1)).toBe(10);
    expect(backoffSeconds(3, 10, () => 1)).toBe(40);
    expect(backoffSeconds(20, 10, () => 1)).toBe(900);
    expect(retryDelaySeconds({ retryAfterMs: 4200 }, 1, 10)).toBe(5);

    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(1, 300) });
    const prov = new SlowProvider(0, () => new ProcessError("AI_ERROR", "AI API: HTTP 503"));
    await dispatch(env, { project: pid });
    const [msg] = q.take();
    const delays: number[] = [];
    for (let d = 1; d <= 3; d++) {
      const r = await deliver(env, [msg], prov, d);
      delays.push(...r.retried.map((m) => m.delaySeconds!));
    }
    expect(prov.calls).toHaveLength(3);
    expect(delays).toHaveLength(2); // the third attempt fails the page: acknowledged
    expect(delays[0]).toBeGreaterThanOrEqual(5);
    expect(delays[0]).toBeLessThanOrEqual(10);
    expect(delays[1]).toBeGreaterThanOrEqual(10);
    expect(delays[1]).toBeLessThanOrEqual(20);
    const st = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${pageIdOf(300)}`))!;
    expect(st).toMatchObject({ status: "failed", error: { code: "AI_ERROR" } });
  });

  it("a batch fanned out a few pages a run reads processing until its last page is terminal; its summary always equals its entries", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q, { DISPATCH_MAX_PER_RUN: "9" });
    const n = 40;
    const pid = await seedProject({ settings: { default_concurrency: 5 }, pages: pages(n, 400) });
    const prov = new SlowProvider(0, (req) =>
      Number(req.blocks[0].content.split(" ")[1]) % 7 === 3 ? new ProcessError("AI_ERROR", "AI API: HTTP 400: refused", false) : null,
    );
    const seen: string[] = [];
    for (let run = 0; run < 20; run++) {
      await dispatch(env, { project: pid });
      await deliver(env, q.take(), prov);
      await projectStub(env, pid).fold();
      const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
      const entries = Object.values(b.pages ?? {});
      expect(entries).toHaveLength(n);
      const done = entries.filter((e) => e.status === "done").length;
      const failed = entries.filter((e) => e.status === "failed").length;
      expect(b.summary).toMatchObject({ completed: done, failed, pending: n - done - failed });
      seen.push(`${b.status} ${done + failed}/${n}`);
      const qu = (await getJSON<QueueData>(env.NIMBUS_QUEUE, `queue:${pid}`))!;
      expect(qu.items).toHaveLength(n - done - failed);
      if (done + failed === n) {
        expect(b.status).toBe("completed");
        break;
      }
      expect(b.status, seen.join(", ")).toBe("processing");
    }
    expect(seen.at(-1)).toBe(`completed ${n}/${n}`);
    expect(seen.length).toBe(5);
    expect(prov.calls).toHaveLength(n);
  });

  it("a consumer invocation stays within the KV limit: pages that would not fit come back a second later, not as attempts", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q, { KV_OPS_LIMIT: "120" });
    const pid = await seedProject({ pages: pages(20, 500) });
    await dispatch(env, { project: pid });
    const msgs = q.take();
    const prov = new SlowProvider();
    const r = await deliver(env, msgs, prov);
    expect(r.rep.errors).toEqual([]);
    expect(r.rep.kv_ops).toBeLessThanOrEqual(120);
    expect(r.rep.done).toBeGreaterThan(0);
    expect(r.rep.deferred).toBe(20 - r.rep.done);
    expect(r.retried).toHaveLength(r.rep.deferred);
    expect(r.retried.every((m) => m.delaySeconds === 1)).toBe(true);
    const back = r.retried.map((m) => msgs[r.ids.indexOf(m.msgId)]);
    const r2 = await deliver({ ...env, KV_OPS_LIMIT: "1000" }, back, prov, 2);
    expect(r2.rep.done).toBe(back.length);
    expect(r2.rep.kv_ops).toBeLessThan(1000);
    // the deferred ones did not spend an attempt
    await projectStub(env, pid).fold();
    const st = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${msgs[19].item.page_id}`))!;
    expect(st.status).toBe("done");
    const stats = await accountStub(env).report();
    expect(stats.invocations.consumer.max_kv_ops).toBeLessThan(1000);
  });

  it("the dead-letter queue's consumer fails the page, and the fold completes the batch", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(2, 600) });
    await dispatch(env, { project: pid });
    const msgs = q.take();
    await deliver(env, [msgs[0]], new SlowProvider());
    const dl = batchOf([msgs[1]], 21, "nimbus-pages-dlq");
    expect(await deadLetter(dl, env)).toBe(1);
    await projectStub(env, pid).fold();
    const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
    expect(b.summary).toMatchObject({ completed: 1, failed: 1, pending: 0 });
    expect(b.status).toBe("completed");
    const st = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${msgs[1].item.page_id}`))!;
    expect(st.error?.message).toMatch(/dead-letter/);
  });

  it("the cron handler dispatches with FANOUT=queues; the queue handler consumes", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(3, 700) });
    const ctx = createExecutionContext();
    await worker.scheduled!({ scheduledTime: Date.now(), cron: "* * * * *", noRetry() {} } as ScheduledController, env, ctx);
    const mine = q.take().filter((m) => m.project_id === pid);
    expect(mine).toHaveLength(3);
    const b = batchOf(mine);
    await worker.queue!(b, { ...env, AI_PROVIDER: "local" }, ctx);
    const res = await getQueueResult(b, ctx);
    expect(res.explicitAcks.length).toBe(3);
    const st = (await getJSON<StatusData>(env.NIMBUS_STATUS, `status:${pid}:${pageIdOf(700)}`))!;
    expect(st.status).toBe("done");
  });

  it("a desktop write from a stale read that puts an older status over a finished page's is undone once KV's staleness window has passed", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(2, 900) });
    await dispatch(env, { project: pid });
    const msgs = q.take();
    await deliver(env, msgs, new SlowProvider());
    await projectStub(env, pid).fold();
    const [k0, k1] = msgs.map((m) => `status:${pid}:${m.item.page_id}`).sort();
    const final = await env.NIMBUS_STATUS.get(k0);
    expect(JSON.parse(final!).status).toBe("done");
    // A desktop that read the status before the Worker wrote it pushes its
    // queued record over it (KV: last write wins, no compare-and-swap) ...
    await put(env.NIMBUS_STATUS, k0, { status: "queued", batch_id: BATCH, updated: T0 });
    // ... and another page was resubmitted in a later batch: its status is the desktop's.
    const newer = { status: "queued", batch_id: "batch_20261127_120000", updated: T0 };
    await put(env.NIMBUS_STATUS, k1, newer);
    const coord = projectStub(env, pid);
    // Nothing is due before the window has passed.
    expect(await coord.verify(Date.now())).toMatchObject({ checked: 0, reasserted: 0 });
    const later = Date.now() + 10 * 60_000;
    expect(await coord.verify(later)).toMatchObject({ checked: 2, reasserted: 1 });
    expect(await env.NIMBUS_STATUS.get(k0)).toBe(final);
    expect(JSON.parse((await env.NIMBUS_STATUS.get(k1))!)).toEqual(newer);
    // written again once, so checked once more, then left alone
    expect(await coord.verify(later + 10 * 60_000)).toMatchObject({ checked: 1, reasserted: 0 });
    expect(await coord.verify(later + 20 * 60_000)).toMatchObject({ checked: 0 });
  });

  it("a verification due in minutes does not hold back the next fold", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(2, 960) });
    await dispatch(env, { project: pid });
    const msgs = q.take();
    const stub = projectStub(env, pid);
    const alarm = () => runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    await deliver(env, [msgs[0]], new SlowProvider());
    // The alarm folds page 0; then the next one is page 0's verification, minutes away.
    for (let i = 0; i < 100 && !(((await alarm()) ?? 0) > Date.now() + 60_000); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await alarm()).toBeGreaterThan(Date.now() + 60_000);
    await deliver(env, [msgs[1]], new SlowProvider());
    // Page 1's outcome is folded a second after the last fold, not then: the
    // alarm was brought forward (or has fired already).
    const next = await alarm();
    if (next === null || next > Date.now() + 60_000) {
      const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
      expect(b.status, `alarm at ${next === null ? "none" : new Date(next).toISOString()}`).toBe("completed");
    } else expect(next).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, `batch:${pid}:${BATCH}`))!;
    expect(b.status).toBe("completed");
  });

  it("a fold that cannot read a batch record yet keeps its outcomes and folds them once it can", async () => {
    const q = new RecordingQueue();
    const env = fanEnv(q);
    const pid = await seedProject({ pages: pages(2, 980) });
    await dispatch(env, { project: pid });
    const bkey = `batch:${pid}:${BATCH}`;
    const created = await env.NIMBUS_BATCHES.get(bkey);
    // not visible here yet (KV shows a new key elsewhere first)
    await env.NIMBUS_BATCHES.delete(bkey);
    await deliver(env, q.take(), new SlowProvider());
    await projectStub(env, pid).fold();
    expect(await env.NIMBUS_BATCHES.get(bkey)).toBeNull();
    await env.NIMBUS_BATCHES.put(bkey, created!);
    await projectStub(env, pid).fold();
    const b = (await getJSON<BatchData>(env.NIMBUS_BATCHES, bkey))!;
    expect(b.status).toBe("completed");
    expect(b.summary).toMatchObject({ completed: 2, failed: 0, pending: 0 });
  });
});

describe("the dispatcher's shares", () => {
  it("no token is refunded while a leasable item waits, whichever project the minute's rotation puts first", async () => {
    const q = new RecordingQueue();
    // A: one item under a long lease (busy). B: three leasable items: first
    // in the rotation, B's equal share of 4 tokens would be 2.
    const a = await seedProject({ pages: pages(1, 800) });
    await dispatch(fanEnv(q, { LEASE_MS: "3600000" }), { project: a });
    const b = await seedProject({ pages: pages(3, 900) });
    q.take();
    const env = fanEnv(q, { LEASE_MS: "1000" });
    const listed = (await env.NIMBUS_QUEUE.list({ prefix: "queue:" })).keys.length;
    expect(listed).toBeGreaterThanOrEqual(2);
    const base = Date.now();
    const firsts = new Set<string>();
    for (let shift = 0; shift < listed; shift++) {
      // A minute later each time: every rotation, and B's earlier leases expired.
      const r = await dispatch(env, { now: () => new Date(base + (shift + 1) * 60000) });
      firsts.add(r.projects[0].project_id);
      const leasable = r.projects.reduce((n, p) => n + p.queued - p.busy - p.terminal, 0);
      expect(r.sent).toBe(leasable);
      expect(r.projects.find((p) => p.project_id === b)).toMatchObject({ queued: 3, sent: 3 });
      expect(r.projects.find((p) => p.project_id === a)).toMatchObject({ queued: 1, busy: 1, sent: 0 });
      expect(q.take().filter((m) => m.project_id === b)).toHaveLength(3);
    }
    expect(firsts.has(a) && firsts.has(b)).toBe(true);
  });
});

describe("the account's AI budget", () => {
  it("paces AI requests at the budget (a second's burst) and caps what the cron sends ahead at a minute's budget", async () => {
    const acct = testEnv.ACCOUNT_COORDINATOR.get(testEnv.ACCOUNT_COORDINATOR.idFromName("budget-test"));
    const t = 1_000_000;
    // 120 a minute: one per 500 ms, a burst of 2
    expect(await acct.acquire(120, t, 10000)).toEqual({ ok: true, waitMs: 0 });
    expect(await acct.acquire(120, t, 10000)).toEqual({ ok: true, waitMs: 0 });
    expect(await acct.acquire(120, t, 10000)).toEqual({ ok: true, waitMs: 500 });
    expect(await acct.acquire(120, t, 10000)).toEqual({ ok: true, waitMs: 1000 });
    // longer than the caller will wait: nothing reserved
    expect(await acct.acquire(120, t, 1000)).toEqual({ ok: false, waitMs: 1500 });
    expect(await acct.acquire(120, t + 1500, 0)).toEqual({ ok: true, waitMs: 0 });

    expect(await acct.take(500, 120, t)).toBe(120);
    expect(await acct.take(500, 120, t)).toBe(0);
    expect(await acct.take(500, 120, t + 30000)).toBe(60);
    await acct.refund(10, 120);
    expect(await acct.take(500, 120, t + 30000)).toBe(10);
  });
});
