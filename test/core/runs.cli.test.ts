// `sltrain runs / attach / stop` on a store populated by the local backend (fake engine), run as a
// separate process exactly as the bundled CLI would call runRunsCommand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { LocalBackend } from '../../src/core/runs/localBackend';
import { newRunId, RunStore } from '../../src/core/runs/store';
import type { RunRecord } from '../../src/core/runs/types';

const FAKE = resolve(__dirname, '../../../test/core/fixtures/fake_engine.py');
const RUNS_JS = resolve(__dirname, '../../src/cli/runs.js');
const run = promisify(execFile);

async function cli(runsDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `require(${JSON.stringify(RUNS_JS)}).runRunsCommand(process.argv[1], process.argv.slice(2)).then((c) => process.exit(c))`;
  try {
    const r = await run(process.execPath, ['-e', script, ...args], { env: { ...process.env, SLTRAIN_RUNS_DIR: runsDir } });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('runs, attach (table and --json), stop, and clear errors', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'cli-')));
  const backend = new LocalBackend({ runsDir: store.root, command: ['python3', FAKE], pollMs: 50 });
  const done = await backend.launch({ id: newRunId(Date.now()), name: 'short', target: { kind: 'local' }, engineArgs: ['--steps', '5', '--step-ms', '10'] });
  await store.save(done);
  const long = await backend.launch({ id: newRunId(Date.now() + 1000), name: 'long', target: { kind: 'local' }, engineArgs: ['--steps', '100000', '--step-ms', '20'] });
  await store.save(long);

  const attach = await cli(store.root, 'attach', 'short');
  assert.equal(attach.code, 0, attach.stderr);
  assert.match(attach.stdout, /step +loss +lr +grad norm +tok\/s/);
  // The engine's grad_norm is a column of its own (the step-metric table): 2 / step in the fake engine.
  assert.match(attach.stdout, /\n +2 +2\.5 +0\.001 +1 +1000 /);
  assert.match(attach.stdout, /^ +5 +1 +0\.001 +0\.4 +1000/m);
  assert.match(attach.stdout, /end +completed at step 5/);

  const json = await cli(store.root, 'attach', done.id, '--json');
  const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
  assert.deepEqual(events.map((e) => e.event), ['start', 'step', 'step', 'step', 'step', 'step', 'end']);

  const list = await cli(store.root, 'runs', '--json');
  const runs = JSON.parse(list.stdout) as { id: string; status: string }[];
  assert.deepEqual(runs.map((r) => [r.id, r.status]), [[long.id, 'running'], [done.id, 'completed']]);

  const stop = await cli(store.root, 'stop', long.id.slice(0, 17));
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped/);
  assert.equal((await store.get(long.id))?.status, 'stopped');

  const missing = await cli(store.root, 'attach', 'nope');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no run "nope"/);
  const remote = await cli(store.root, 'launch', '--bogus');
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /unknown option --bogus/);
});

test('stop refuses a record naming a foreign process; runs completes a record saved before its launch returned', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'cli-')));
  const victim = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  await new Promise((r) => victim.once('spawn', r));
  try {
    const id = newRunId(Date.now());
    const dir = store.dirFor(id);
    await store.save({ id, name: 'edited', target: { kind: 'local' }, engineArgs: [], dir, localDir: dir, createdAt: 1,
      status: 'running', pid: victim.pid, pgid: victim.pid });
    const refused = await cli(store.root, 'stop', id);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /refused: .*nothing was signalled/);
    assert.equal(victim.exitCode, null);
    assert.equal(victim.signalCode, null);
  } finally {
    victim.kill('SIGKILL');
  }

  // A launch that died between starting the wrapper and saving its pid: the record says "starting".
  const backend = new LocalBackend({ runsDir: store.root, command: ['python3', FAKE], pollMs: 50 });
  const started = await backend.launch({ id: newRunId(Date.now() + 5000), name: 'late', target: { kind: 'local' }, engineArgs: ['--steps', '100000', '--step-ms', '20'] });
  const { pid: _pid, pgid: _pgid, startTime: _st, ...unsaved } = started;
  await store.save({ ...unsaved, status: 'starting' });
  const list = await cli(store.root, 'runs', '--json');
  const late = (JSON.parse(list.stdout) as RunRecord[]).find((r) => r.id === started.id);
  assert.equal(late?.status, 'running');
  assert.equal(late?.pgid, started.pgid, 'the wrapper found in the run folder');
  assert.equal((await store.get(started.id))?.pgid, started.pgid);
  const stop = await cli(store.root, 'stop', started.id);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped/);
});
