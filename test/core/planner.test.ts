// Planner tests: counts against an independent formula, the papers' convention, and properties.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findPreset, PRESETS, type ModelConfig } from '../../src/core/modelConfig';
import { defaultPlanOptions, plan, planAll } from '../../src/core/planner/plan';
import { rowsOf } from '../../src/core/planner/sharding';
import { paramElementBytes } from '../../src/core/planner/staticBytes';
import { indexLayout, linearShapes, modelTensors, sparseNonzeros } from '../../src/core/planner/tensors';
import type { Method, PlanOptions } from '../../src/core/planner/types';
import { validatePlanOptions } from '../../src/core/planner/validate';

function preset(name: string): ModelConfig {
  const p = findPreset(name);
  assert.ok(p, name);
  return p.config;
}

/** Independent count straight from the config fields (seven linears per block, plus the family's biases and q/k norms). */
function expectedCounts(c: ModelConfig, method: Method, r: number, delta: number): { total: number; trainable: number; nnz: number } {
  const h = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const I = c.intermediateSize;
  const mats: Array<[number, number]> = [[q, h], [kv, h], [kv, h], [h, q], [I, h], [I, h], [h, I]];
  const emb = c.vocabSize * h * (c.tieWordEmbeddings ? 1 : 2);
  // Dense extras of a block under every method: its family's biases and qwen3's q/k norms.
  const extras = (c.qkvBias ? q + 2 * kv : 0) + (c.oBias ? h : 0) + (c.mlpBias ? 2 * I + h : 0) + (c.qkNorm ? 2 * c.headDim : 0);
  const norms = (2 * c.numHiddenLayers + 1) * h + c.numHiddenLayers * extras;
  let dense = 0;
  let factors = 0;
  let nnz = 0;
  for (const [o, i] of mats) {
    dense += o * i;
    factors += r * (o + i);
    nnz += Math.floor(delta * i * o);
  }
  const L = c.numHiddenLayers;
  const base = emb + norms;
  switch (method) {
    case 'full':
    case 'galore':
    case 'apollo':
    case 'apollo_mini':
      return { total: base + L * dense, trainable: base + L * dense, nnz: 0 };
    case 'lowrank':
      return { total: base + L * factors, trainable: base + L * factors, nnz: 0 };
    case 'relora':
      return { total: base + L * (dense + factors), trainable: base + L * factors, nnz: 0 };
    case 'sltrain':
      return { total: base + L * (factors + nnz), trainable: base + L * (factors + nnz), nnz: L * nnz };
  }
}

describe('parameter counts', () => {
  it('takes the support size as the engine does: the integer product first', () => {
    // Left to right, 0.01 · 100 · 29 = 28.999…; the engine's int(delta · (in · out)) gives 29.
    assert.equal(sparseNonzeros({ kind: 'q_proj', out: 29, in: 100 }, 0.01), 29);
    assert.equal(sparseNonzeros({ kind: 'q_proj', out: 64, in: 64 }, 0.03), 122);
  });

  for (const p of PRESETS) {
    it(`${p.name}: every method matches the independent count`, () => {
      const o = defaultPlanOptions(p.config);
      for (const r of planAll(p.config, o)) {
        const e = expectedCounts(p.config, r.method, o.rank, o.delta);
        assert.equal(r.params.total, e.total, `${r.method} total`);
        assert.equal(r.params.trainable, e.trainable, `${r.method} trainable`);
        assert.equal(r.params.sparseNonzeros, e.nnz, `${r.method} nnz`);
        const sum = Object.values(r.params.components).reduce((s, c) => s + c.total, 0);
        assert.equal(sum, r.params.total, 'components add up');
      }
    });
  }
  it('llama_60m full rank is the well-known 58.1M', () => {
    const r = plan(preset('llama_60m'), defaultPlanOptions(preset('llama_60m'), { method: 'full' }));
    assert.equal(r.params.total, 58_073_600);
  });
  it('llama_7b full rank is 6.74B', () => {
    const r = plan(preset('llama_7b'), defaultPlanOptions(preset('llama_7b'), { method: 'full' }));
    assert.equal(r.params.total, 6_738_415_616);
  });
});

describe("papers' estimate (docs/memory.md §1)", () => {
  const c = preset('llama_350m');
  const o = defaultPlanOptions(c);
  const by = Object.fromEntries(planAll(c, o).map((r) => [r.method, r]));
  it('full rank: 2 B weights and 2 × 2 B states per parameter', () => {
    const P = by.full.params.total;
    assert.equal(by.full.estimate.weightsBytes, 2 * P);
    assert.equal(by.full.estimate.optimizerBytes, 4 * P);
  });
  it('SLTrain: trainable in bf16 plus 8 B int64 per nonzero; states for the trainable part', () => {
    const s = by.sltrain;
    assert.equal(s.estimate.weightsBytes, 2 * s.params.trainable + 8 * s.params.sparseNonzeros);
    assert.equal(s.estimate.optimizerBytes, 4 * s.params.trainable);
  });
  it('low rank: trainable weights and states only', () => {
    assert.equal(by.lowrank.estimate.totalBytes, 6 * by.lowrank.params.trainable);
  });
  it('ReLoRA keeps the full weights and the adaptors', () => {
    assert.equal(by.relora.estimate.weightsBytes, 2 * by.relora.params.total);
    assert.equal(by.relora.estimate.optimizerBytes, 4 * by.relora.params.trainable);
  });
  it('GaLore: m·r projector and 2·n·r moments per matrix, full Adam elsewhere', () => {
    const h = c.hiddenSize;
    const I = c.intermediateSize;
    const r = o.rank;
    const perLayer = 4 * (h * r + 2 * h * r) + 3 * (h * r + 2 * I * r);
    const rest = by.galore.params.total - c.numHiddenLayers * (4 * h * h + 3 * h * I);
    assert.equal(by.galore.estimate.optimizerBytes, 2 * (c.numHiddenLayers * perLayer) + 4 * rest);
  });
  it('ordering at 350M: SLTrain and GaLore below full rank', () => {
    assert.ok(by.sltrain.estimate.totalBytes < by.full.estimate.totalBytes);
    assert.ok(by.galore.estimate.totalBytes < by.full.estimate.totalBytes);
  });
});

describe('peak properties', () => {
  const c = preset('llama_130m');
  const base = defaultPlanOptions(c);
  const peak = (o: Partial<PlanOptions>): number => plan(c, { ...base, ...o }).peak.bytes;
  it('grows with the micro-batch and the sequence', () => {
    assert.ok(peak({ microBatch: 8 }) > peak({ microBatch: 4 }));
    assert.ok(peak({ seqLen: 512 }) > peak({ seqLen: 256 }));
  });
  it('per-layer updates never raise the peak', () => {
    for (const method of ['full', 'lowrank', 'relora', 'galore', 'sltrain'] as Method[]) {
      for (const microBatch of [1, 16]) {
        for (const gradAccum of [1, 4]) {
          assert.ok(peak({ method, microBatch, gradAccum, perLayer: true }) <= peak({ method, microBatch, gradAccum }), method);
        }
      }
    }
  });
  it('gradient checkpointing lowers saved activations', () => {
    const a = plan(c, { ...base, microBatch: 8 }).activations.savedBytes;
    const b = plan(c, { ...base, microBatch: 8, gradCkpt: true }).activations.savedBytes;
    assert.ok(b < a);
  });
  it('SLTrain at delta 0.03 is below full rank from 350M up', () => {
    for (const name of ['llama_350m', 'llama_1b', 'llama_3b', 'llama_7b', 'llama_13b']) {
      const cc = preset(name);
      const o = defaultPlanOptions(cc, { delta: 0.03 });
      assert.ok(plan(cc, { ...o, method: 'sltrain' }).peak.bytes < plan(cc, { ...o, method: 'full' }).peak.bytes, name);
    }
  });
  it('ZeRO-3 divides weights, gradients and states by the GPU count', () => {
    const one = plan(c, { ...base, method: 'full' }).peak;
    const four = plan(c, { ...base, method: 'full', gpus: 4, sharding: 'zero3' }).peak;
    const item = (p: typeof one, k: string): number => p.breakdown.find((i) => i.key === k)?.bytes ?? 0;
    const states1 = plan(c, { ...base, method: 'full' }).peak.phases;
    assert.ok(states1.optimizer > 0);
    // FSDP pads each parameter's shard to ceil(rows / 4) rows and the allocator rounds each tensor: at most
    // one row and one 512-byte block per tensor above a quarter.
    const o = { ...base, method: 'full' as const };
    const tensors = modelTensors(c, o);
    const slack = tensors.reduce((s, t) => s + (t.numel / rowsOf(t, c)) * paramElementBytes(o) + 512, 0);
    for (const k of ['weights', 'optimizerStates']) {
      assert.ok(item(four, k) >= item(one, k) / 4 - 512 * tensors.length && item(four, k) <= item(one, k) / 4 + 2 * slack, k);
    }
  });
  it('the breakdown sums to the peak', () => {
    for (const r of planAll(c, { ...base, microBatch: 4 })) {
      assert.equal(r.peak.breakdown.reduce((s, i) => s + i.bytes, 0), r.peak.bytes, r.method);
    }
  });
  it('the largest micro-batch fits and one more does not', () => {
    const o = { ...base, gpuMemoryBytes: 24e9 };
    const r = plan(c, o);
    assert.ok(r.fits.maxMicroBatch > 1);
    assert.ok(plan(c, { ...o, microBatch: r.fits.maxMicroBatch }).peak.bytes <= 24e9);
    assert.ok(plan(c, { ...o, microBatch: r.fits.maxMicroBatch + 1 }).peak.bytes > 24e9);
  });
  it('suggests a smaller SLTrain rank/delta when it does not fit', () => {
    const c7 = preset('llama_7b');
    const r = plan(c7, defaultPlanOptions(c7, { gpuMemoryBytes: 22e9 }));
    assert.equal(r.fits.fits, false);
    assert.ok(r.fits.suggestion && r.fits.suggestion.peakBytes <= 22e9);
  });
  it('int64 indices cost twice the int32 ones', () => {
    const i32 = plan(c, { ...base, indexDtype: 'int32' }).staticBytes.indices;
    const i64 = plan(c, { ...base, indexDtype: 'int64' }).staticBytes.indices;
    assert.equal(i64, 2 * i32);
  });
  it('CSR supports (auto, int16) cost 2 B per nonzero plus 4 B per output row and offset', () => {
    const r = plan(c, { ...base, indexDtype: 'auto' });
    assert.deepEqual(r.staticBytes.indices, plan(c, { ...base, indexDtype: 'int16' }).staticBytes.indices);
    const perLayer = linearShapes(c).reduce((sum, l) => sum + 2 * Math.floor(base.delta * (l.in * l.out)) + 4 * (l.out + 1), 0);
    assert.equal(r.staticBytes.indices, c.numHiddenLayers * perLayer);
    assert.ok(r.staticBytes.indices < plan(c, { ...base, indexDtype: 'int32' }).staticBytes.indices * 0.55);
  });
  it('a config wider than int16 columns takes flat int32 under auto and rejects int16', () => {
    const wide = { ...c, intermediateSize: 40000, name: 'wide' };
    const auto = plan(wide, { ...base, indexDtype: 'auto' });
    const down = linearShapes(wide).find((l) => l.kind === 'down_proj')!;
    assert.equal(indexLayout(down, 'auto', 10).layout, 'flat');
    assert.ok(auto.staticBytes.indices > plan(c, { ...base, indexDtype: 'auto' }).staticBytes.indices);
    assert.match(validatePlanOptions(wide, { ...base, indexDtype: 'int16' }).join(' '), /int16 cannot address 40000 input columns/);
    assert.deepEqual(validatePlanOptions(wide, { ...base, indexDtype: 'auto' }), []);
  });
});
