// Planner ↔ engine parity per rank: 2 gloo processes on the CPU (torchrun) measure each --sharding
// mode with `sltrain.measure`, every rank counting the tensors it holds; the planner's
// staticBytesPerRank must agree with every rank to the byte, its saved activations within 2 %.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..', '..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');
const CLI = join(ROOT, 'dist', 'cli.js');
const WORLD = 2;

interface Case { model: string; method: string; sharding: string; precision: string; batch: number }

/** Every mode for full rank and SLTrain, GaLore's projectors under zero1, and bf16 / mixed under FSDP. */
function matrix(): Case[] {
  const cases: Case[] = [];
  for (const sharding of ['ddp', 'zero1', 'zero2', 'zero3', 'fsdp']) {
    for (const method of ['full', 'sltrain']) cases.push({ model: 'llama_tiny', method, sharding, precision: 'fp32', batch: 2 });
  }
  cases.push({ model: 'llama_tiny', method: 'galore', sharding: 'zero1', precision: 'fp32', batch: 1 });
  cases.push({ model: 'llama_tiny', method: 'lowrank', sharding: 'zero3', precision: 'bf16', batch: 1 });
  cases.push({ model: 'llama_9m', method: 'sltrain', sharding: 'zero2', precision: 'mixed', batch: 1 });
  return cases;
}

interface PlanJson {
  run: Record<string, unknown>;
  staticBytesPerRank: Array<Record<string, number>>;
  activations: { savedBytes: number };
}

function planFor(c: Case): PlanJson {
  const args = ['plan', '--model', c.model, '--method', c.method, '--gpus', String(WORLD), '--sharding', c.sharding,
    '--precision', c.precision, '--batch-size', String(c.batch), '--seq-len', '64', '--json'];
  return JSON.parse(execFileSync(process.execPath, [CLI, ...args]).toString()) as PlanJson;
}

function measureRanks(runs: Array<Record<string, unknown>>): Array<{ ranks: Array<Record<string, number>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sltrain-parity-'));
  const file = join(dir, 'runs.json');
  writeFileSync(file, JSON.stringify(runs));
  const out = execFileSync(PY, ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', String(WORLD),
    join(ROOT, 'test', 'parity', 'measure_ranks.py'), file], {
    cwd: join(ROOT, 'engine'), maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  rmSync(dir, { recursive: true, force: true });
  return out.toString().trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

const ready = existsSync(PY) && existsSync(CLI);
describe(`planner matches every rank of ${WORLD} processes`, { skip: ready ? false : 'run `make build venv` first' }, () => {
  const cases = matrix();
  it(`${cases.length} sharded setups: static bytes to the byte, saved activations within 2 %`, () => {
    const plans = cases.map(planFor);
    const results = measureRanks(plans.map((p) => p.run));
    assert.equal(results.length, cases.length);
    const fields: Array<[string, string]> = [['weights', 'weights'], ['gradients', 'gradients'], ['indices', 'indices'],
      ['projectors', 'projectors'], ['optimizerStates', 'optimizer_states_excluding_projectors'], ['buffers', 'buffers']];
    for (const [i, { ranks }] of results.entries()) {
      const tag = JSON.stringify(cases[i]);
      assert.equal(ranks.length, WORLD, tag);
      for (const [r, measured] of ranks.entries()) {
        const planned = plans[i].staticBytesPerRank[r];
        for (const [p, m] of fields) assert.equal(planned[p], measured[m], `rank ${r} ${p} ${tag}`);
        const err = Math.abs(plans[i].activations.savedBytes - measured.saved_activations) / measured.saved_activations;
        assert.ok(err <= 0.02, `rank ${r} saved activations ${tag}: planner ${plans[i].activations.savedBytes}, engine ${measured.saved_activations}`);
      }
    }
  });
});
