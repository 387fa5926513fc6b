// Launch and stop under faults on a real sshd: the connection dropped right after the remote start
// (the retry finds the started run: exactly one on the host), and the host down during `sltrain stop`
// and `sltrain runs` (a non-zero exit naming the host; no stored status overwritten).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSshBackend } from '../../src/core/ssh/backend';
import { RunStore } from '../../src/core/runs/store';
import type { LaunchSpec, RunBackend, RunRecord } from '../../src/core/runs/types';
import { testDeps } from './harness/fakes';
import { fixtureEngine, groupAlive, makeWorld, repoRoot } from './harness/world';
import type { World } from './harness/world';

let w: World;
let backend: RunBackend;
let deps: ReturnType<typeof testDeps>;
before(async () => {
  w = await makeWorld(1);
  deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() });
  backend = createSshBackend(deps);
});
after(async () => { await w.close(); });

const spec = (id: string, engineArgs: string[]): LaunchSpec => ({ id, name: id, target: { kind: 'ssh', host: w.host() }, engineArgs });

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Live processes as [pid, pgid, cwd, argv joined by spaces]. */
function processes(): { pid: number; pgid: number; cwd: string; cmd: string }[] {
  const list = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      list.push({ pid: Number(name), pgid, cwd: readlinkSync(`/proc/${name}/cwd`), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return list;
}

test('a connection dropped right after the remote start: the retry finds the run, one run on the host', async () => {
  const id = 'droplaunch';
  const dir = join(w.host().workDir as string, 'runs', id);
  mkdirSync(dir, { recursive: true });
  // Hold the folder's launch lock so the first launch script is caught mid-way, on the host, with
  // the connection that carries it still open: then the connection is killed and the lock released.
  const holder = spawn('python3', ['-c', 'import fcntl, sys; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); '
    + 'print("held", flush=True); sys.stdin.read()', join(dir, '.launch.lock')], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout.once('data', r));
  const launching = backend.launch(spec(id, ['--steps', '100000', '--sleep', '0.1']));
  const waiting = (): number[] => processes().filter((p) => p.cmd === 'flock 9' && p.cwd === dir).map((p) => p.pid);
  await until('the launch script to wait for the folder lock', () => waiting().length === 1);
  const first = waiting()[0];
  assert.ok(w.servers[0].killConnections() > 0);
  await until('the retried launch to wait too', () => waiting().some((pid) => pid !== first));
  holder.stdin.end(); // both scripts go on, one after the other: the first one starts the run
  const rec = await launching;
  assert.ok(deps.logger.lines.some((l) => /Launching droplaunch again \(try 2 of/.test(l)), deps.logger.lines.join('\n'));
  await until('the engine to start', () => processes().some((p) => p.cmd.includes('sltrain.train') && p.cwd === dir));
  await new Promise((r) => setTimeout(r, 1000)); // a second start, were there one, would show by now
  const groups = new Set(processes().filter((p) => p.cwd === dir && p.cmd.includes('sltrain.train')).map((p) => p.pgid));
  assert.deepEqual([...groups], [rec.pgid], 'exactly one run, the one the record names');
  assert.equal(readFileSync(join(dir, 'pgid'), 'utf8').trim(), String(rec.pgid));
  assert.ok(rec.startTime, 'the leader start time is recorded for stop');
  await backend.stop(rec, 5000);
  assert.ok(rec.pgid && !groupAlive(rec.pgid));
});

test('a folder held by a live engine: the remote launch is refused and writes nothing there', async () => {
  const dir = join(w.host().workDir as string, 'runs', 'held');
  mkdirSync(dir, { recursive: true });
  const holder = spawn('python3', ['-c', 'import fcntl, os, sys; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); '
    + 'f.write("%d elsewhere 1.0\\n" % os.getpid()); f.flush(); print("held", flush=True); sys.stdin.read()', join(dir, 'run.lock')],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout.once('data', r));
  try {
    const before = readdirSync(dir).sort();
    await assert.rejects(backend.launch(spec('held', ['--steps', '5'])), /is in use by a running engine .*nothing was started/);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no pgid, log or exit_code in the live folder');
  } finally {
    holder.stdin.end();
  }
});

test('stop on the host verifies the leader: a hostile pgid file or a reused pid is refused', async () => {
  const rec = await backend.launch(spec('verify', ['--steps', '100000', '--sleep', '0.1']));
  const pgidFile = join(rec.dir, 'pgid');
  const real = readFileSync(pgidFile, 'utf8');
  // A live group leader of another folder: the closest a foreign pgid can come.
  // (Its command line names the world's folder, so the world's cleanup ends it even if this test fails.)
  const foreign = spawn('bash', ['-c', 'sleep 300; true', join(w.dir, 'foreign')], { detached: true, stdio: 'ignore', cwd: w.dir });
  await new Promise((r) => foreign.once('spawn', r));
  for (const hostile of ['1\n', '0\n', '-1\n', '$(touch /tmp/x)\n', `${foreign.pid}\n`]) {
    writeFileSync(pgidFile, hostile);
    await assert.rejects(backend.stop({ ...rec, pid: undefined }, 1000), /nothing was signalled/, `pgid file ${JSON.stringify(hostile)}`);
  }
  writeFileSync(pgidFile, real);
  await assert.rejects(backend.stop({ ...rec, startTime: '12345' }, 1000), /pid was reused.*nothing was signalled/);
  await assert.rejects(backend.stop({ ...rec, pid: (rec.pid ?? 0) + 1 }, 1000), /differs from the recorded pid/);
  assert.ok(rec.pgid && groupAlive(rec.pgid), 'the run was not signalled');
  assert.ok(foreign.exitCode === null && foreign.signalCode === null, 'the foreign process was not signalled');
  foreign.kill('SIGKILL');
  assert.ok(!readdirSync(rec.dir).includes('stop_requested'));
  await backend.stop(rec, 5000);
  assert.ok(!groupAlive(rec.pgid));
  assert.equal(await backend.status(rec), 'stopped');
});

function cli(runsDir: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const mod = join(repoRoot(), 'out', 'src', 'cli', 'runs.js');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(mod)}).runRunsCommand(process.argv[1], process.argv.slice(2)).then((c) => process.exit(c))`, ...args],
    { env: { PATH: process.env.PATH, HOME: w.home, SLTRAIN_RUNS_DIR: runsDir, SLTRAIN_ENGINE: fixtureEngine() },
      encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('host down: stop exits non-zero naming the host, runs keeps every stored status', async () => {
  const store = new RunStore(join(w.dir, 'local-runs'));
  const done = await backend.launch(spec('finished', ['--steps', '2', '--sleep', '0.01']));
  await until('the short run to complete', async () => (await backend.status(done)) === 'completed');
  await store.save({ ...done, status: 'completed' });
  const live = await backend.launch(spec('live', ['--steps', '100000', '--sleep', '0.1']));
  await store.save(live);
  await w.servers[0].stop();

  const stop = cli(store.root, 'stop', 'live', '--grace', '1');
  assert.equal(stop.code, 1, stop.err);
  assert.match(stop.err, /cannot reach test0; the run may still be running/);
  assert.ok(live.pgid && groupAlive(live.pgid), 'the run goes on on its host');
  assert.equal((await store.get('live'))?.status, 'running');

  const runs = cli(store.root, 'runs', '--json');
  assert.equal(runs.code, 0, runs.err);
  const listed = new Map((JSON.parse(runs.out) as RunRecord[]).map((r) => [r.id, r.status]));
  assert.equal(listed.get('finished'), 'completed');
  assert.equal((await store.get('finished'))?.status, 'completed', 'a final status is never overwritten by unknown');
  assert.equal((await store.get('live'))?.status, 'running');
});
