// Per-rank planning of each --sharding (src/core/planner/sharding.ts); the parity test checks the same
// numbers against 2 real gloo processes, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESETS } from '../../src/core/modelConfig';
import { defaultPlanOptions, plan } from '../../src/core/planner/plan';
import { fsdpRows, rankStaticBytes, shardingTransients, zeroOwners } from '../../src/core/planner/sharding';
import type { TensorSpec } from '../../src/core/planner/shapes';

const tiny = PRESETS.find((p) => p.name === 'llama_tiny')!.config;

test('FSDP chunks every rank to ceil(rows / W) rows; a rank past the last row holds padding only', () => {
  assert.deepEqual(fsdpRows(5, 2, 0), { local: 3, padded: 3 });
  assert.deepEqual(fsdpRows(5, 2, 1), { local: 2, padded: 3 });
  assert.deepEqual(fsdpRows(1, 4, 3), { local: 0, padded: 1 });
});

test('ZeRO gives each parameter, largest first, to the rank with the fewest elements', () => {
  const t = (name: string, numel: number): TensorSpec => ({ name, component: 'norms', numel, role: 'param', trainable: true });
  const owners = zeroOwners([t('a', 10), t('b', 30), t('c', 20), t('d', 5)], 2);
  assert.deepEqual(Object.fromEntries(owners), { b: 0, c: 1, a: 1, d: 0 });
});

test('sharded modes divide what they shard and keep the support whole on every rank', () => {
  const o = (sharding: 'ddp' | 'zero1' | 'zero3') => defaultPlanOptions(tiny, { method: 'sltrain', gpus: 2, sharding });
  const [ddp] = rankStaticBytes(tiny, o('ddp'));
  const zero1 = rankStaticBytes(tiny, o('zero1'));
  const zero3 = rankStaticBytes(tiny, o('zero3'));
  assert.equal(zero1[0].weights, ddp.weights);
  assert.equal(zero1[0].optimizerStates + zero1[1].optimizerStates, ddp.optimizerStates); // states split, none lost
  for (const r of zero3) {
    assert.ok(r.weights >= ddp.weights / 2 && r.weights < ddp.weights);
    assert.equal(r.indices, ddp.indices);
  }
  assert.equal(plan(tiny, o('zero3')).staticBytesPerRank.length, 2);
  assert.ok(shardingTransients(tiny, o('zero3')).backward > 0 && shardingTransients(tiny, o('ddp')).buckets > 0);
  assert.deepEqual(shardingTransients(tiny, { ...o('ddp'), gpus: 1 }), { forward: 0, backward: 0, buckets: 0 });
});
