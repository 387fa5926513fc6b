// The local backend driving the REAL engine (`python -m sltrain.train`, llama_tiny on the CPU):
// events received in order, latency engine→model measured, reattach from a byte offset mid-run with
// no gap and no duplicate, and stop (SIGTERM to the group → checkpoint → end "stopped").
// Needs engine/.venv with torch (or SLTRAIN_PYTHON). Kept small: the machine is shared (≈2 min).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLocalBackend } from '../../src/core/runs/backends';
import { checkEnvironment, pythonCandidates, systemCommandRunner } from '../../src/core/runs/environment';
import { followRun } from '../../src/core/runs/follower';
import { RunModel } from '../../src/core/runs/runModel';
import { itemsOf } from '../../src/core/runSchema';
import { newRunId, RunStore } from '../../src/core/runs/store';
import type { EngineEvent } from '../../src/core/events/types';
import type { RunRecord } from '../../src/core/runs/types';

const ROOT = resolve(__dirname, '../../..');
// Small batches keep a step well under a second on a loaded 2-core machine.
const TINY = ['--model', 'llama_tiny', '--batch-size', '4', '--seq-len', '64', '--eval-every', '25', '--eval-batches', '2'];

const steps = (es: readonly EngineEvent[]): number[] => es.flatMap((e) => (e.event === 'step' ? [e.step] : []));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function setup(): Promise<{ store: RunStore; backend: ReturnType<typeof createLocalBackend> }> {
  const candidates = pythonCandidates({ setting: process.env.SLTRAIN_PYTHON, engineDir: join(ROOT, 'engine') });
  const report = await checkEnvironment(systemCommandRunner, candidates, join(ROOT, 'engine'));
  const errors = report.issues.filter((i) => i.severity === 'error');
  assert.deepEqual(errors, [], 'the engine environment must be ready (run .ci setup: engine/.venv with torch)');
  assert.ok(report.python);
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'sltrain-int-')));
  return { store, backend: createLocalBackend({ runsDir: store.root, python: report.python, engineDir: join(ROOT, 'engine') }) };
}

async function waitForStep(rec: RunRecord, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const text = await readFile(join(rec.dir, 'events.jsonl'), 'utf8').catch(() => '');
    if (text.includes('"event": "step"') || text.includes('"event":"step"')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no step event within ${timeoutMs} ms; see ${join(rec.dir, 'log')}`);
}

test('the environment check names the trackers this Python imports (the launch offers those)', async () => {
  const candidates = pythonCandidates({ setting: process.env.SLTRAIN_PYTHON, engineDir: join(ROOT, 'engine') });
  const report = await checkEnvironment(systemCommandRunner, candidates, join(ROOT, 'engine'));
  // The engine's test extra installs all four; the names are the run schema's --report-to items.
  assert.deepEqual(report.trackers, itemsOf('report_to'));
});

test('real engine: 50 steps followed live, reattach mid-run without gap or duplicate', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(join(ROOT, 'engine', 'sltrain', 'train.py')));
  const { store, backend } = await setup();
  const rec = await backend.launch({ id: newRunId(Date.now()), name: 'llama_tiny sltrain', target: { kind: 'local' }, engineArgs: [...TINY, '--steps', '50'] });
  await store.save(rec);
  const t0 = Date.now();

  // Follower A: the whole run, into a RunModel (the chart model), timing each step's arrival.
  const model = new RunModel({ id: rec.id, name: rec.name, status: 'starting' });
  const latenciesMs: number[] = [];
  const all: EngineEvent[] = [];
  const followA = followRun(backend, rec, 0, (events) => {
    model.apply(events);
    const now = Date.now();
    for (const e of events) if (e.event === 'step') latenciesMs.push(now - e.time * 1000);
    all.push(...events);
  }, new AbortController().signal);

  // Follower B: detaches after step 10 (a window closing), reattaches from its byte offset later.
  const detach = new AbortController();
  const partB: EngineEvent[] = [];
  const first = await followRun(backend, rec, 0, (events) => {
    partB.push(...events);
    if (steps(partB).length >= 10) detach.abort();
  }, detach.signal);
  await new Promise((r) => setTimeout(r, 1500));
  const resumed: EngineEvent[] = [];
  await followRun(backend, rec, first.offset, (events) => resumed.push(...events), new AbortController().signal);

  const resultA = await followA;
  const expected = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.deepEqual(steps(all), expected);
  assert.equal(all[0].event, 'start');
  const end = all.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'completed');
  assert.ok(all.some((e) => e.event === 'eval'), 'eval events arrive');
  assert.equal(resultA.stats.garbage + resultA.stats.invalid + resultA.stats.tooLong, 0);
  assert.deepEqual(steps([...partB, ...resumed]), expected, 'reattach from the byte offset: no gap, no duplicate');
  assert.deepEqual([...partB, ...resumed], all);
  assert.deepEqual(model.steps.step, expected);
  assert.equal(model.meta.status, 'completed');
  assert.equal(model.meta.totalSteps, 50);
  assert.equal(await backend.status(rec), 'completed');
  assert.equal((await readFile(join(rec.dir, 'exit_code'), 'utf8')).trim(), '0');

  console.log(`# real engine 50 steps: ${((Date.now() - t0) / 1000).toFixed(1)} s; reattached at byte ${first.offset}`);
  console.log(`# latency engine write → point in the chart model (ms, ${latenciesMs.length} steps): ` +
    `p50 ${quantile(latenciesMs, 0.5).toFixed(1)}  p95 ${quantile(latenciesMs, 0.95).toFixed(1)}  max ${Math.max(...latenciesMs).toFixed(1)}`);
});

test('real engine: stop sends SIGTERM to the group; the run checkpoints and ends stopped', { timeout: 120_000 }, async () => {
  const { store, backend } = await setup();
  const rec = await backend.launch({ id: newRunId(Date.now()), name: 'to stop', target: { kind: 'local' }, engineArgs: [...TINY, '--steps', '100000'] });
  await store.save(rec);
  const events: EngineEvent[] = [];
  const follow = followRun(backend, rec, 0, (es) => events.push(...es), new AbortController().signal);
  await waitForStep(rec, 90_000);
  assert.equal(await backend.status(rec), 'running');
  const t0 = Date.now();
  await backend.stop(rec, 30_000);
  console.log(`# stop took ${Date.now() - t0} ms (SIGTERM → checkpoint → exit)`);
  await follow;
  const end = events.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'stopped', `last event: ${JSON.stringify(end)}`);
  assert.ok(events.some((e) => e.event === 'checkpoint'), 'the engine checkpoints on SIGTERM');
  assert.equal(await backend.status(rec), 'stopped');
  const saved = await store.get(rec.id);
  assert.equal(saved?.id, rec.id);
});

test('real engine: a plan for 2 GPUs runs as 2 processes on this machine (torchrun --standalone, gloo)', { timeout: 240_000 }, async () => {
  const { store, backend } = await setup();
  const rec = await backend.launch({
    id: newRunId(Date.now()), name: 'two processes', target: { kind: 'local', nprocPerNode: 2 },
    engineArgs: [...TINY, '--steps', '4', '--num-threads', '1'],
  });
  await store.save(rec);
  const events: EngineEvent[] = [];
  await followRun(backend, rec, 0, (es) => events.push(...es), new AbortController().signal);
  const start = events.find((e) => e.event === 'start');
  assert.ok(start?.event === 'start' && start.worldSize === 2, `start: ${JSON.stringify(start)}; see ${join(rec.dir, 'log')}`);
  assert.deepEqual(steps(events), [1, 2, 3, 4], 'one event per step: rank 0 writes them');
  const end = events.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'completed');
  assert.equal(await backend.status(rec), 'completed');
});
