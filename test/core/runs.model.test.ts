// RunModel folds events into columns and reports only the delta.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunModel } from '../../src/core/runs/runModel';
import type { EngineEvent } from '../../src/core/events/types';

const base = { v: 1, time: 1, rank: 0 };

test('deltas, NaN as null, diverged and end', () => {
  const m = new RunModel({ id: 'r', name: 'r', status: 'starting' });
  const d1 = m.apply([{ ...base, event: 'start', config: { steps: 10 } }, { ...base, event: 'step', step: 1, loss: 2, lr: 0.1 }]);
  assert.equal(m.meta.totalSteps, 10);
  assert.equal(m.meta.status, 'running');
  assert.deepEqual(d1.steps.step, [1]);
  const events: EngineEvent[] = [
    { ...base, event: 'step', step: 2, loss: Number.NaN },
    { ...base, event: 'error', message: 'NaN loss', code: 'diverged' },
    { ...base, event: 'end', status: 'failed', step: 2 },
  ];
  const d2 = m.apply(events);
  assert.deepEqual(d2.steps.step, [2]);
  assert.deepEqual(d2.steps.loss, [null]);
  assert.equal(d2.diverged, 'NaN loss');
  assert.equal(d2.ended, 'failed');
  assert.deepEqual(m.steps.step, [1, 2]);
  assert.equal(m.meta.lastError?.code, 'diverged');
});

test('tracker events become the run view links: one per tracker, the newest replacing an older one', () => {
  const m = new RunModel({ id: 'r', name: 'r', status: 'running' });
  const d = m.apply([
    { ...base, event: 'tracker', name: 'tensorboard', path: '/runs/r/tensorboard', command: 'tensorboard --logdir /runs/r/tensorboard' },
    { ...base, event: 'tracker', name: 'wandb', url: 'https://wandb.ai/me/sltrain/runs/abc' },
  ]);
  assert.equal(d.metaChanged, true);
  assert.deepEqual(m.meta.trackers?.map((t) => t.name), ['tensorboard', 'wandb']);
  m.apply([{ ...base, event: 'tracker', name: 'tensorboard', path: '/elsewhere' }]); // a resumed run says it again
  assert.deepEqual(m.meta.trackers, [
    { name: 'wandb', url: 'https://wandb.ai/me/sltrain/runs/abc' }, { name: 'tensorboard', path: '/elsewhere' },
  ]);
});
