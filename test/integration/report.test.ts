// `sltrain report RUN --to tensorboard`: a run made without --report-to is replayed into TensorBoard
// from its run folder, each step once, read back with TensorBoard's own reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');
const CLI = join(ROOT, 'dist', 'cli.js');
const ready = existsSync(PY) && existsSync(CLI);

test('a finished run replayed into TensorBoard by `sltrain report`', { skip: ready ? false : 'run `make build venv` first', timeout: 240_000 }, () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sltrain-report-'));
  const env = { ...process.env, SLTRAIN_RUNS_DIR: join(cwd, 'runs'), SLTRAIN_PYTHON: PY };
  const launched = spawnSync(process.execPath, [CLI, 'launch', '--', '--model', 'llama_tiny', '--steps', '4', '--batch-size', '2',
    '--seq-len', '32', '--eval-every', '2', '--eval-batches', '1', '--device', 'cpu'], { cwd, env, encoding: 'utf8' });
  assert.equal(launched.status, 0, launched.stderr);
  const [id] = readdirSync(join(cwd, 'runs'));
  const bad = spawnSync(process.execPath, [CLI, 'report', id, '--to', 'tensorbord'], { cwd, env, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--to must be one of tensorboard, wandb, mlflow, trackio/);
  const r = spawnSync(process.execPath, [CLI, 'report', id, '--to', 'tensorboard'], { cwd, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const read = `
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1]); acc.Reload()
tags = [t for t in acc.Tags()["scalars"] if t.endswith("loss")]
print(sorted({e.step for t in tags if "eval" not in t for e in acc.Scalars(t)}))`;
  const steps = execFileSync(PY, ['-c', read, join(cwd, 'runs', id, 'tensorboard')], { encoding: 'utf8' }).trim();
  assert.equal(steps, '[1, 2, 3, 4]');
  const again = spawnSync(process.execPath, [CLI, 'report', id, '--to', 'tensorboard'], { cwd, env, encoding: 'utf8' });
  assert.equal(again.status, 2, 'a second replay into the same tracker is refused (no duplicate run)');
});
