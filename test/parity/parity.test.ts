// Planner ↔ engine parity on CPU: `python -m sltrain.measure` (here through one Python process that
// loops over the matrix) against `sltrain plan --json`. Counts and static bytes must agree to the
// byte; saved activations within 2 %.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunSpec } from '../../src/core/runSchema';

const ROOT = join(__dirname, '..', '..', '..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');
const CLI = join(ROOT, 'dist', 'cli.js');

/** A small config.json of each family, for the parity cases below. */
function familyConfig(name: string): string {
  return join(ROOT, 'test', 'parity', 'families', `${name}.json`);
}

/** A setup in the engine's own names (the run schema): what both sides are given. */
type Case = { [K in 'model' | 'method' | 'optimizer' | 'per_layer' | 'precision' | 'batch_size' | 'seq_len']-?: NonNullable<RunSpec[K]> }
  & Pick<RunSpec, 'grad_ckpt' | 'index_dtype' | 'support_update_every' | 'support_update_fraction'>;

interface Measured {
  params: { total: number; trainable: number; sparse_nonzeros: number };
  bytes: Record<string, number>;
  gradients_mode: 'all' | 'per_layer_max';
}

/**
 * Tiny presets up to 60M × full, lowrank, galore, sltrain × AdamW and per-layer × fp32 and bf16 ×
 * batch 1 and 2. The two smallest presets run every combination; the larger ones a covering subset,
 * since 60M on two CPU cores costs seconds per setup.
 */
function matrix(): Case[] {
  const cases: Case[] = [];
  const methods = ['full', 'lowrank', 'galore', 'sltrain'] as const;
  const add = (model: string, per_layer: boolean, precision: Case['precision'], batch_size: number,
    optimizer: Case['optimizer'] = 'adamw', ms: readonly Case['method'][] = methods): void => {
    for (const method of ms) cases.push({ model, method, optimizer, per_layer, precision, batch_size, seq_len: 64 });
  };
  for (const model of ['llama_tiny', 'llama_9m']) {
    for (const per_layer of [false, true]) {
      for (const precision of ['fp32', 'bf16'] as const) {
        for (const batch of [1, 2]) add(model, per_layer, precision, batch);
      }
    }
  }
  // Beyond the required matrix on the smallest preset: ReLoRA, bf16 autocast and 8-bit Adam.
  const all = [...methods, 'relora'] as const;
  add('llama_tiny', false, 'mixed', 2, 'adamw', all);
  add('llama_tiny', false, 'fp32', 2, 'adamw', ['relora']);
  add('llama_tiny', false, 'bf16', 1, 'adam8bit', all);
  add('llama_tiny', true, 'bf16', 1, 'adam8bit', methods);
  for (const precision of ['fp32', 'bf16'] as const) {
    for (const batch of [1, 2]) add('llama_20m', false, precision, batch);
    for (const method of methods) {
      cases.push({ model: 'llama_9m', method, optimizer: 'adamw', per_layer: false, precision, batch_size: 2, seq_len: 64, grad_ckpt: true });
    }
  }
  add('llama_20m', true, 'fp32', 1);
  add('llama_60m', false, 'fp32', 1);
  add('llama_60m', true, 'bf16', 2);
  // Both support layouts the engine stores: flat int32 / int64 positions beside the default CSR.
  for (const index_dtype of ['int16', 'int32', 'int64'] as const) {
    cases.push({ model: 'llama_tiny', method: 'sltrain', optimizer: 'adamw', per_layer: false, precision: 'bf16', batch_size: 1, seq_len: 64, index_dtype });
    cases.push({ model: 'llama_20m', method: 'sltrain', optimizer: 'adam8bit', per_layer: true, precision: 'bf16', batch_size: 1, seq_len: 64, index_dtype });
  }
  // APOLLO and APOLLO-Mini (low-rank moments, the seeded projection, the limiter's norm), whole-model
  // and per-layer; SLTrain's dynamic support (its regrown-entry buffer) in every index layout.
  for (const model of ['llama_tiny', 'llama_9m']) {
    for (const per_layer of [false, true]) {
      for (const precision of ['fp32', 'bf16'] as const) add(model, per_layer, precision, 1, 'adamw', ['apollo', 'apollo_mini']);
    }
  }
  add('llama_20m', false, 'bf16', 2, 'adamw', ['apollo', 'apollo_mini']);
  for (const index_dtype of ['int16', 'int32', 'int64'] as const) {
    cases.push({ model: 'llama_tiny', method: 'sltrain', optimizer: 'adamw', per_layer: false, precision: 'bf16', batch_size: 1, seq_len: 64, index_dtype, support_update_every: 10, support_update_fraction: 0.2 });
  }
  cases.push({ model: 'llama_20m', method: 'sltrain', optimizer: 'adamw', per_layer: true, precision: 'fp32', batch_size: 1, seq_len: 64, support_update_every: 50, support_update_fraction: 0.05 });
  // One small config per model family (biases, q/k norms, head_dim != hidden/heads, sliding windows
  // shorter than the sequence), each from its config.json as a user would give it.
  for (const family of ['llama3', 'mistral', 'qwen2', 'qwen3']) {
    for (const method of ['full', 'sltrain'] as const) {
      cases.push({ model: familyConfig(family), method, optimizer: 'adamw', per_layer: false, precision: 'bf16', batch_size: 2, seq_len: 64 });
    }
  }
  cases.push({ model: familyConfig('qwen2'), method: 'relora', optimizer: 'adamw', per_layer: false, precision: 'mixed', batch_size: 1, seq_len: 64 });
  cases.push({ model: familyConfig('mistral'), method: 'galore', optimizer: 'adamw', per_layer: true, precision: 'fp32', batch_size: 1, seq_len: 64 });
  cases.push({ model: familyConfig('qwen3'), method: 'lowrank', optimizer: 'adamw', per_layer: false, precision: 'fp32', batch_size: 1, seq_len: 64, grad_ckpt: true });
  cases.push({ model: familyConfig('llama3'), method: 'sltrain', optimizer: 'adam8bit', per_layer: false, precision: 'mixed', batch_size: 1, seq_len: 64 });
  return cases;
}

function measureAll(cases: Array<Record<string, unknown>>): Array<{ case: Case; measured: Measured }> {
  const out = execFileSync(PY, [join(ROOT, 'test', 'parity', 'measure_matrix.py')], {
    input: JSON.stringify(cases), cwd: join(ROOT, 'engine'), maxBuffer: 64 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return out.toString().trim().split('\n').map((l) => JSON.parse(l));
}

interface PlanJson {
  run: Record<string, unknown>;
  params: { total: number; trainable: number; sparseNonzeros: number };
  staticBytes: Record<string, number>;
  largestGradientBytes: number;
  activations: { savedBytes: number };
}

function planFor(c: Case): PlanJson {
  const args = ['plan', '--model', c.model, '--method', c.method, '--optimizer', c.optimizer, '--precision', c.precision,
    '--batch-size', String(c.batch_size), '--seq-len', String(c.seq_len), '--json'];
  if (c.per_layer) args.push('--per-layer');
  if (c.grad_ckpt) args.push('--grad-ckpt');
  if (c.index_dtype) args.push('--index-dtype', c.index_dtype);
  if (c.support_update_every) args.push('--support-update-every', String(c.support_update_every), '--support-update-fraction', String(c.support_update_fraction));
  return JSON.parse(execFileSync(process.execPath, [CLI, ...args]).toString()) as PlanJson;
}

const ready = existsSync(PY) && existsSync(CLI);
describe('planner matches the engine on CPU', { skip: ready ? false : 'run `make build venv` first' }, () => {
  const cases = matrix();
  let results: Array<{ case: Case; measured: Measured }> = [];
  let plans: PlanJson[] = [];
  const errors: number[] = [];
  it(`measures ${cases.length} setups in the engine, each from its plan's own run file`, () => {
    // The round trip the launch makes: sltrain plan --json → "run" → the engine builds exactly that.
    plans = cases.map(planFor);
    results = measureAll(plans.map((p) => p.run));
    assert.equal(results.length, cases.length);
  });
  it('parameter totals, trainable counts and nonzeros are equal', () => {
    for (const [i, { measured: m }] of results.entries()) {
      const c = cases[i];
      const p = plans[i];
      const tag = JSON.stringify(c);
      assert.equal(p.params.total, m.params.total, `total ${tag}`);
      assert.equal(p.params.trainable, m.params.trainable, `trainable ${tag}`);
      assert.equal(p.params.sparseNonzeros, m.params.sparse_nonzeros, `nnz ${tag}`);
      // Static bytes agree to the byte.
      assert.equal(p.staticBytes.weights, m.bytes.weights, `weights ${tag}`);
      assert.equal(p.staticBytes.indices, m.bytes.indices, `indices ${tag}`);
      assert.equal(p.staticBytes.buffers, m.bytes.buffers, `buffers ${tag}`);
      assert.equal(p.staticBytes.projectors, m.bytes.projectors, `projectors ${tag}`);
      assert.equal(p.staticBytes.optimizerStates, m.bytes.optimizer_states_excluding_projectors, `states ${tag}`);
      const grads = m.gradients_mode === 'per_layer_max' ? p.largestGradientBytes : p.staticBytes.gradients;
      assert.equal(grads, m.bytes.gradients, `gradients ${tag}`);
      const err = (p.activations.savedBytes - m.bytes.saved_activations) / m.bytes.saved_activations;
      errors.push(Math.abs(err));
      assert.ok(Math.abs(err) <= 0.02, `saved activations ${tag}: planner ${p.activations.savedBytes}, engine ${m.bytes.saved_activations}`);
    }
    const sorted = [...errors].sort((a, b) => a - b);
    console.log(`saved-activation error over ${errors.length} setups: median ${(100 * sorted[sorted.length >> 1]).toFixed(3)} %, max ${(100 * sorted[sorted.length - 1]).toFixed(3)} %`);
  });
});
