// The plan is the run: `sltrain plan --json` gives each method's engine run file as "run"; the engine
// trained with `--config run.json` resolves exactly the planned value of every option the planner
// models (its config.json says so), and `sltrain.measure` of the same file gives the plan's static
// bytes. The option list comes from the run schema, so an option added there is covered here too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RUN_OPTIONS, flagOf } from '../../src/core/runSchema';

const ROOT = resolve(__dirname, '../../..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');
const CLI = join(ROOT, 'dist', 'cli.js');

/**
 * A value other than the planner's default for every modelled option, small enough to train one step
 * of llama_tiny on a CPU. (adamw stays: 8-bit Adam needs bitsandbytes' CPU build; the method is
 * covered by the second setup.)
 */
const SETUPS: Array<Record<string, string | number | boolean>> = [
  {
    model: 'llama_tiny', method: 'sltrain', rank: 6, delta: 0.05, alpha: 12, index_dtype: 'int32', galore_update_gap: 9,
    galore_scale: 0.5, optimizer: 'adamw', per_layer: true, batch_size: 3, grad_accum: 2, seq_len: 40, precision: 'mixed',
    grad_ckpt: true,
  },
  { model: 'llama_tiny', method: 'galore', rank: 4, galore_update_gap: 3, galore_scale: 0.5, batch_size: 2, seq_len: 32, precision: 'fp32' },
  // The learned support, planned and run on one process with the sharding spelled out.
  { model: 'llama_tiny', method: 'sltrain', rank: 8, support_update_every: 5, support_update_fraction: 0.2, sharding: 'ddp', batch_size: 2, seq_len: 32 },
];

function planArgs(setup: Record<string, string | number | boolean>): string[] {
  const args = ['plan', '--json'];
  for (const [name, v] of Object.entries(setup)) {
    if (v === true) args.push(flagOf(name));
    else if (v !== false) args.push(flagOf(name), String(v));
  }
  return args;
}

const ready = existsSync(PY) && existsSync(CLI);

test('every modelled option has a value in a round-trip setup', () => {
  const modelled = RUN_OPTIONS.filter((o) => o.plan).map((o) => o.name).sort();
  const covered = [...new Set(SETUPS.flatMap((s) => Object.keys(s)))].sort();
  assert.deepEqual(covered, modelled, 'add the new option to SETUPS');
});

for (const setup of SETUPS) {
  test(`plan --json → run → engine resolves the planned ${setup.method} setup`, { skip: ready ? false : 'run `make build venv` first' }, () => {
    const planned = JSON.parse(execFileSync(process.execPath, [CLI, ...planArgs(setup)], { encoding: 'utf8' }));
    const run = planned.run as Record<string, unknown>;
    for (const [name, v] of Object.entries(setup)) assert.equal(run[name], v, `plan's run.${name}`);

    const dir = mkdtempSync(join(tmpdir(), 'sltrain-roundtrip-'));
    const runFile = join(dir, 'run.json');
    writeFileSync(runFile, JSON.stringify(run));
    const out = join(dir, 'out');
    execFileSync(PY, ['-m', 'sltrain.train', '--config', runFile, '--steps', '1', '--eval-every', '0', '--save-every', '0',
      '--eval-batches', '1', '--device', 'cpu', '--out', out], { cwd: join(ROOT, 'engine'), stdio: ['ignore', 'ignore', 'pipe'] });
    const resolved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const [name, v] of Object.entries(run)) assert.equal(resolved[name], v, `engine's resolved ${name}`);

    const measured = JSON.parse(execFileSync(PY, ['-m', 'sltrain.measure', '--config', runFile, '--device', 'cpu', '--json'],
      { cwd: join(ROOT, 'engine'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(planned.staticBytes.weights, measured.bytes.weights, 'weights');
    assert.equal(planned.staticBytes.indices, measured.bytes.indices, 'indices');
    assert.equal(planned.staticBytes.projectors, measured.bytes.projectors, 'projectors');
    assert.equal(planned.staticBytes.optimizerStates, measured.bytes.optimizer_states_excluding_projectors, 'optimizer states');
    const grads = measured.gradients_mode === 'per_layer_max' ? planned.largestGradientBytes : planned.staticBytes.gradients;
    assert.equal(grads, measured.bytes.gradients, 'gradients');
  });
}
