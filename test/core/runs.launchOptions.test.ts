// Planner options → engine flags; both the flat and the planner's nested argument shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineArgsFor, parseLaunchOptions, runNameFor } from '../../src/core/runs/launchOptions';

test("the planner's { model, options, predictedPeakBytes } shape", () => {
  const o = parseLaunchOptions({
    model: 'llama_60m', predictedPeakBytes: 5.5e9,
    options: { method: 'sltrain', rank: 128, delta: 0.03, alpha: 32, optimizer: 'adamw', perLayer: false, precision: 'bf16', microBatch: 64, seqLen: 256, gradAccum: 2, gradCkpt: true, gpus: 1, hopper: true },
  });
  assert.equal(o.predictedPeakBytes, 5.5e9);
  assert.deepEqual(engineArgsFor(o, { steps: 1000, data: 'embedded' }), [
    '--model', 'llama_60m', '--method', 'sltrain', '--rank', '128', '--delta', '0.03', '--alpha', '32', '--optimizer', 'adamw',
    '--precision', 'bf16', '--batch-size', '64', '--grad-accum', '2', '--seq-len', '256', '--no-per-layer', '--grad-ckpt',
    '--steps', '1000', '--data', 'embedded',
  ]);
  assert.equal(runNameFor(o), 'llama_60m sltrain r=128');
});

test('untrusted arguments: wrong types dropped, nothing → defaults', () => {
  assert.deepEqual(parseLaunchOptions(undefined), {});
  assert.deepEqual(parseLaunchOptions({ rank: '128', method: 3, perLayer: 'yes', model: '/x/config.json' }), { model: '/x/config.json' });
  assert.deepEqual(engineArgsFor({}, { steps: 5, data: 'hf:allenai/c4' }), ['--model', 'llama_tiny', '--steps', '5', '--data', 'hf:allenai/c4']);
  assert.equal(runNameFor({ model: '/x/my_model.json', method: 'full', rank: 8 }), 'my_model full');
});
