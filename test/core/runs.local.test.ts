// The local backend with real processes, against a fake engine script (the real engine is exercised
// in test/integration): detached launch, follow to the end, stop, SIGKILL fallback, reattach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalBackend } from '../../src/core/runs/localBackend';
import { followRun } from '../../src/core/runs/follower';
import { LOCK_FILE } from '../../src/core/runs/runFiles';
import { newRunId } from '../../src/core/runs/store';
import type { EngineEvent } from '../../src/core/events/types';
import type { RunRecord } from '../../src/core/runs/types';

// Compiled to out/test/core: the fixture stays in the source tree.
const FAKE = resolve(__dirname, '../../../test/core/fixtures/fake_engine.py');

const runsDirOf = new WeakMap<LocalBackend, string>();

async function backend(): Promise<LocalBackend> {
  const runsDir = await mkdtemp(join(tmpdir(), 'local-'));
  const b = new LocalBackend({ runsDir, command: ['python3', FAKE], pollMs: 50 });
  runsDirOf.set(b, runsDir);
  return b;
}

async function launch(b: LocalBackend, args: string[]): Promise<RunRecord> {
  return b.launch({ id: newRunId(Date.now()), name: 'fake', target: { kind: 'local' }, engineArgs: args });
}

async function collect(b: LocalBackend, rec: RunRecord, offset = 0, signal = new AbortController().signal): Promise<{ events: EngineEvent[]; offset: number }> {
  const events: EngineEvent[] = [];
  const r = await followRun(b, rec, offset, (es) => events.push(...es), signal);
  return { events, offset: r.offset };
}

/** Waits for the first step: by then the engine's SIGTERM handler is installed (CPU load varies). */
async function firstStep(rec: RunRecord): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const text = await readFile(join(rec.dir, 'events.jsonl'), 'utf8').catch(() => '');
    if (text.includes('"step"')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the fake engine did not start');
}

const steps = (es: EngineEvent[]): number[] => es.flatMap((e) => (e.event === 'step' ? [e.step] : []));

test('launch detached, follow to the end: every event once, exit code recorded', async () => {
  const b = await backend();
  const rec = await launch(b, ['--steps', '15', '--step-ms', '10']);
  assert.ok(rec.pgid && rec.pgid !== process.pid);
  assert.ok(rec.engineArgs.includes('--out'));
  const { events } = await collect(b, rec);
  assert.deepEqual(steps(events), Array.from({ length: 15 }, (_, i) => i + 1));
  assert.equal(events.at(-1)?.event, 'end');
  assert.equal(await b.status(rec), 'completed');
  assert.equal((await readFile(join(rec.dir, 'exit_code'), 'utf8')).trim(), '0');
  assert.equal((await readFile(join(rec.dir, 'pid'), 'utf8')).trim(), String(rec.pgid));
  assert.match(await readFile(join(rec.dir, 'log'), 'utf8'), /"event": "start"/);
});

test('--out is refused: the run store owns the run directory', async () => {
  const b = await backend();
  await assert.rejects(launch(b, ['--steps', '1', '--out', '/tmp/elsewhere']), /--out is chosen by the run store/);
});

test('a failing run: diverged error, exit code 3, status failed', async () => {
  const b = await backend();
  const rec = await launch(b, ['--steps', '10', '--step-ms', '5', '--fail-at', '4']);
  const { events } = await collect(b, rec);
  assert.ok(events.some((e) => e.event === 'error' && e.code === 'diverged'));
  assert.equal(await b.status(rec), 'failed');
  assert.equal((await readFile(join(rec.dir, 'exit_code'), 'utf8')).trim(), '3');
});

test('stop: SIGTERM to the group, the engine checkpoints and ends stopped', async () => {
  const b = await backend();
  const rec = await launch(b, ['--steps', '1000', '--step-ms', '20']);
  const follow = collect(b, rec);
  await firstStep(rec);
  assert.equal(await b.status(rec), 'running');
  await b.stop(rec, 10_000);
  const { events } = await follow;
  assert.ok(events.some((e) => e.event === 'checkpoint'));
  const end = events.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'stopped');
  assert.equal(await b.status(rec), 'stopped');
});

test('stop: a run that ignores SIGTERM is killed after the grace period and still ends stopped', async () => {
  const b = await backend();
  const rec = await launch(b, ['--steps', '1000', '--step-ms', '20', '--ignore-term']);
  await firstStep(rec);
  const t0 = Date.now();
  await b.stop(rec, 500);
  assert.ok(Date.now() - t0 >= 500);
  assert.equal(await b.status(rec), 'stopped');
  const { events } = await collect(b, rec);
  assert.ok(events.at(-1)?.event === 'end');
});

test('reattach from a byte offset mid-run: no gap, no duplicate', async () => {
  const b = await backend();
  const rec = await launch(b, ['--steps', '40', '--step-ms', '15']);
  const first = new AbortController();
  const part1: EngineEvent[] = [];
  let offset = 0;
  const f1 = followRun(b, rec, 0, (es, off) => {
    part1.push(...es);
    offset = off;
    if (steps(part1).length >= 10) first.abort();
  }, first.signal);
  const r1 = await f1;
  assert.equal(r1.offset, offset);
  await new Promise((r) => setTimeout(r, 100));
  const { events: part2 } = await collect(b, rec, r1.offset);
  const all = steps([...part1, ...part2]);
  assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i + 1));
});

test('a run folder held by a live engine: launch is refused and the folder stays byte-identical', async () => {
  const b = await backend();
  const id = newRunId(Date.now());
  const dir = join(runsDirOf.get(b) as string, id);
  await mkdir(dir, { recursive: true });
  // A live holder of the engine's lock, as the engine writes it: `PID HOST START`.
  const holder = spawn('python3', ['-c', 'import fcntl, os, socket, sys; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); '
    + 'f.write("%d %s 1.0\\n" % (os.getpid(), socket.gethostname())); f.flush(); print("held", flush=True); sys.stdin.read()',
  join(dir, LOCK_FILE)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout.once('data', r));
  try {
    const before = await readdir(dir);
    await assert.rejects(b.launch({ id, name: 'second', target: { kind: 'local' }, engineArgs: ['--steps', '3'] }), /in use by a running engine/);
    assert.deepEqual(await readdir(dir), before, 'no log, pid or events file was added');
  } finally {
    holder.stdin.end();
  }
});
