// The launch argument: the plan's own run file → engine flags; anything else refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESETS } from '../../src/core/modelConfig';
import { defaultPlanOptions, plan } from '../../src/core/planner/plan';
import { engineArgsFor, LaunchArgumentError, parseLaunchOptions, runNameFor } from '../../src/core/runs/launchOptions';
import { withProcesses } from '../../src/core/runs/processes';

test("the planner's { run, gpus, sharding, predictedPeakBytes } becomes exactly the planned flags", () => {
  const config = PRESETS.find((p) => p.name === 'llama_60m')!.config;
  const planned = plan(config, defaultPlanOptions(config, {
    method: 'galore', galoreUpdateGap: 500, indexDtype: 'int32', precision: 'mixed', microBatch: 64, gradAccum: 2, gradCkpt: true,
  }));
  const o = parseLaunchOptions({ run: planned.run, gpus: 1, sharding: 'ddp', predictedPeakBytes: planned.peak.bytes });
  assert.equal(o.predictedPeakBytes, planned.peak.bytes);
  const args = engineArgsFor(o, { steps: 1000, data: 'embedded' });
  const value = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  assert.equal(value('--galore-update-gap'), '500');
  assert.equal(value('--index-dtype'), 'int32');
  assert.equal(value('--precision'), 'mixed');
  assert.equal(value('--batch-size'), '64');
  assert.equal(value('--grad-accum'), '2');
  assert.equal(value('--method'), 'galore');
  assert.ok(args.includes('--grad-ckpt') && args.includes('--no-per-layer'));
  assert.equal(value('--steps'), '1000');
  assert.equal(value('--predicted-peak-bytes'), String(Math.round(planned.peak.bytes)));
  assert.equal(value('--report-to'), undefined, 'no tracker unless one is picked');
  assert.equal(runNameFor(o), 'llama_60m galore r=128');
  // The dialog's tracker pick becomes --report-to; picking none overrides a run file that named some.
  const picked = engineArgsFor(o, { steps: 1000, data: 'embedded', reportTo: ['tensorboard', 'mlflow'] });
  assert.equal(picked[picked.indexOf('--report-to') + 1], 'tensorboard,mlflow');
  const withTrackers = parseLaunchOptions({ run: { ...planned.run, report_to: 'wandb' } });
  const none = engineArgsFor(withTrackers, { steps: 10, data: 'embedded', reportTo: [] });
  assert.equal(none[none.indexOf('--report-to') + 1], 'none');
});

test('nothing → the dialog decides; bad fields refused with their names', () => {
  assert.deepEqual(parseLaunchOptions(undefined), { run: {}, gpus: 1, sharding: 'ddp' });
  assert.deepEqual(engineArgsFor(parseLaunchOptions(undefined), { steps: 5, data: 'hf:allenai/c4' }),
    ['--model', 'llama_tiny', '--steps', '5', '--data', 'hf:allenai/c4']);
  const refused = (arg: unknown, pattern: RegExp): void => assert.throws(() => parseLaunchOptions(arg), (e: unknown) => e instanceof LaunchArgumentError && pattern.test(e.message));
  refused({ run: { rank: '128' } }, /run\.rank must be a whole number/);
  refused({ run: { method: 'lora' } }, /run\.method must be one of full, lowrank, relora, galore, sltrain/);
  refused({ run: { batch: 4 } }, /run\.batch is not an engine option/);
  refused({ options: {} }, /unknown field options/);
  refused({ gpus: 0 }, /gpus must be a whole number from 1/);
  refused({ run: { sharding: 'zero1' }, gpus: 4, sharding: 'zero3' }, /sharding "zero3" and run\.sharding "zero1" differ/);
  refused({ gpus: 4, sharding: 'zero4' }, /sharding must be one of ddp, zero1, zero2, zero3, fsdp/);
  refused('llama_60m', /takes one object/);
  assert.equal(runNameFor({ run: { model: '/x/my_model.json', method: 'full', rank: 8 }, gpus: 4, sharding: 'ddp' }), 'my_model full ×4');
});

test('every sharding of a multi-GPU plan reaches the engine as --sharding', () => {
  for (const sharding of ['ddp', 'zero1', 'zero2', 'zero3', 'fsdp']) {
    const args = engineArgsFor(parseLaunchOptions({ run: { method: 'sltrain' }, gpus: 4, sharding }), { steps: 5, data: 'embedded' });
    assert.equal(args[args.indexOf('--sharding') + 1], sharding);
  }
  const config = PRESETS.find((p) => p.name === 'llama_60m')!.config;
  const planned = plan(config, defaultPlanOptions(config, { method: 'full', gpus: 2, sharding: 'zero2' }));
  assert.equal(planned.run.sharding, 'zero2', "the plan's run file carries its sharding");
  const args = engineArgsFor(parseLaunchOptions({ run: planned.run, gpus: 2 }), { steps: 5, data: 'embedded' });
  assert.equal(args[args.indexOf('--sharding') + 1], 'zero2');
});

test('several processes on one host run under torchrun --standalone', () => {
  assert.deepEqual(withProcesses(['py', '-m', 'sltrain.train'], 1), ['py', '-m', 'sltrain.train']);
  assert.deepEqual(withProcesses(['py', '-m', 'sltrain.train'], 4),
    ['py', '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '4', '-m', 'sltrain.train']);
  assert.throws(() => withProcesses(['py'], 0), /from 1 to 1024/);
});
