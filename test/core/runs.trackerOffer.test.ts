// The launch dialog's tracker step: what is offered where, and what the run file had picked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itemsOf } from '../../src/core/runSchema';
import { reportToNames, trackerChoices } from '../../src/core/runs/trackerOffer';

test("this machine: only the trackers its Python imports, in the run schema's order", () => {
  const c = trackerChoices(['mlflow', 'tensorboard'], 'this machine', undefined);
  assert.deepEqual(c.map((x) => x.name), ['tensorboard', 'mlflow']);
  assert.ok(c.every((x) => !x.picked && x.description === 'installed for this machine'));
  assert.deepEqual(trackerChoices([], 'this machine', 'wandb'), [], 'nothing installed: the step is skipped');
});

test('a host: every tracker, checked there when the run starts; the run file picks its own', () => {
  const c = trackerChoices(undefined, 'gpu-box', 'wandb, TensorBoard');
  assert.deepEqual(c.map((x) => x.name), [...itemsOf('report_to')]);
  assert.deepEqual(c.filter((x) => x.picked).map((x) => x.name), ['tensorboard', 'wandb']);
  assert.match(c[0].description, /checked on gpu-box when the run starts/);
});

test('--report-to values: none and blanks are no tracker', () => {
  assert.deepEqual(reportToNames('none'), []);
  assert.deepEqual(reportToNames(' mlflow,,trackio '), ['mlflow', 'trackio']);
  assert.deepEqual(reportToNames(undefined), []);
});
