// The whole local pipeline into the page: an engine process writes events.jsonl → local backend
// follow → parser → RunWatcher/RunModel → the run view's message → the page's arrays → drawn.
// Prints the latency from the engine writing an event to the point being in the page (goal < 250 ms;
// printed, not asserted). The engine is the fake fixture here (fast, steady); test/integration runs
// the real one into the host-side model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { LocalBackend } from '../../src/core/runs/localBackend';
import { newRunId, RunStore } from '../../src/core/runs/store';
import { RunWatcher } from '../../src/core/runs/watcher';
import { debugInfo, send, withRunView } from './page';

const FAKE = resolve(__dirname, '../../../test/core/fixtures/fake_engine.py');
let page: Page;
withRunView((p) => {
  page = p;
});

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `p50 ${q(0.5).toFixed(0)}  p95 ${q(0.95).toFixed(0)}  max ${s[s.length - 1].toFixed(0)} ms (n=${s.length})`;
}

test('engine → page latency, live', { timeout: 60_000 }, async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'live-')));
  const backend = new LocalBackend({ runsDir: store.root, command: ['python3', FAKE], pollMs: 100 });
  const record = await backend.launch({ id: newRunId(Date.now()), name: 'live', target: { kind: 'local' }, engineArgs: ['--steps', '60', '--step-ms', '50'] });
  await store.save(record);
  const watcher = new RunWatcher(store, () => backend);
  const model = watcher.watch(record);
  await send(page, { type: 'snapshot', runs: [model.snapshot()] });
  // What RunViewPanel does with each update.
  watcher.onUpdate((u) => {
    if (u.delta.steps.step.length > 0) void send(page, { type: 'append', runId: u.id, steps: u.delta.steps, evals: u.delta.evals });
    if (u.delta.metaChanged) void send(page, { type: 'meta', meta: { ...model.meta } });
  });
  await watcher.settled(record.id);
  await page.waitForFunction(() => (window as unknown as { runviewDebug: { points: number } }).runviewDebug.points >= 60);
  await new Promise((r) => setTimeout(r, 300));
  const d = await debugInfo(page);
  assert.equal(d.points, 60);
  assert.equal(await page.textContent('.run .badge'), 'completed');
  console.log(`# engine write → point in the page's chart arrays: ${stats(d.ingestLatencyMs)}`);
  console.log(`# engine write → point drawn (redraws ≤ 4/s):       ${stats(d.drawnLatencyMs)}`);
  watcher.dispose();
});
