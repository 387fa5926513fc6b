// Stop signals only a process group whose leader is verified as the run's: pgid 0/1/-1, the caller's
// own group, a reused or foreign pid are refused with nothing signalled. Real processes where it is
// safe (a foreign `sleep`), a recording fake where a mistake would hit every process of the user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LocalBackend } from '../../src/core/runs/localBackend';
import { StopRefusedError } from '../../src/core/runs/runErrors';
import { RunStore } from '../../src/core/runs/store';
import { systemProcessControl, type ProcessControl, type ProcessIdentity } from '../../src/core/runs/system';
import type { RunRecord } from '../../src/core/runs/types';

/** A process table with one live leader, 4242, of the run folder `dir`; every signal is recorded. */
class Table implements ProcessControl {
  signals: string[] = [];
  constructor(readonly leader: ProcessIdentity & { pid: number }) {}
  async spawnDetached(): Promise<number> {
    throw new Error('not in these tests');
  }
  groupAlive(): boolean {
    return this.signals.length === 0;
  }
  killGroup(pgid: number, signal: NodeJS.Signals): void {
    this.signals.push(`${pgid}:${signal}`); // the group dies on the first signal
  }
  identify(pid: number): ProcessIdentity | undefined {
    return pid === this.leader.pid ? this.leader : pid === 1 ? { startTime: '1', pgid: 1, cwd: '/', cmdline: '/sbin/init' } : undefined;
  }
  ownGroup(): number {
    return 555;
  }
}

async function record(overrides: Partial<RunRecord>): Promise<RunRecord> {
  const dir = overrides.dir ?? await mkdtemp(join(tmpdir(), 'own-'));
  await writeFile(join(dir, 'events.jsonl'), '{"v":1,"event":"start","time":1,"rank":0,"config":{}}\n');
  return { id: basename(dir), name: 'r', target: { kind: 'local' }, engineArgs: [], dir, localDir: dir, createdAt: 0, status: 'running', ...overrides };
}

function table(dir: string): Table {
  return new Table({ pid: 4242, startTime: '777', pgid: 4242, cwd: dir, cmdline: `bash -c W sltrain-run python --out ${dir}` });
}

test('hostile pgid/pid in run.json: refused, nothing signalled', async () => {
  const base = await record({});
  const cases: [string, Partial<RunRecord>, RegExp][] = [
    ['pgid 1 (init; kill(-1) = every process)', { pgid: 1, pid: 1 }, /never a run's/],
    ['pgid 0 (the caller\'s group)', { pgid: 0 }, /never a run's/],
    ['pgid -1', { pgid: -1 }, /never a run's/],
    ['pgid as a string', { pgid: '4242' as unknown as number }, /never a run's/],
    ['pgid 2^53', { pgid: 2 ** 53 }, /never a run's/],
    ['pgid 1.5', { pgid: 1.5 }, /never a run's/],
    ['the caller\'s own group', { pgid: 555, pid: 555 }, /this command's own/],
    ['pid differs from pgid', { pgid: 4242, pid: 1 }, /leads its own group/],
    ['no pgid at all', {}, /no process group recorded/],
    ['a reused pid (other start time)', { pgid: 4242, pid: 4242, startTime: '123' }, /pid was reused/],
  ];
  for (const [what, o, message] of cases) {
    const proc = table(base.dir);
    const backend = new LocalBackend({ runsDir: tmpdir(), command: [], proc });
    const rec = { ...base, ...o };
    if (!('pgid' in o)) delete rec.pgid;
    await assert.rejects(backend.stop(rec, 1000), (e: Error) => e instanceof StopRefusedError && message.test(e.message), what);
    assert.deepEqual(proc.signals, [], `${what}: nothing signalled`);
    assert.equal(await backend.status(rec), 'unknown', `${what}: a foreign process says nothing about the run`);
  }
});

test('a leader of another folder is refused; this run\'s own leader is signalled', async () => {
  const rec = await record({ pgid: 4242, pid: 4242, startTime: '777' });
  const elsewhere = new Table({ pid: 4242, startTime: '777', pgid: 4242, cwd: '/tmp', cmdline: 'sleep 100' });
  await assert.rejects(new LocalBackend({ runsDir: tmpdir(), command: [], proc: elsewhere }).stop(rec, 0), /runs in \/tmp/);
  const moved = table(rec.dir);
  await assert.rejects(new LocalBackend({ runsDir: '/srv/other-runs', command: [], proc: moved }).stop(rec, 0), /not its folder in \/srv\/other-runs/);
  assert.deepEqual(moved.signals, [], 'a record pointing outside the runs directory');
  assert.deepEqual(elsewhere.signals, []);
  const ours = table(rec.dir);
  const backend = new LocalBackend({ runsDir: tmpdir(), command: [], proc: ours });
  await backend.stop(rec, 0);
  assert.deepEqual(ours.signals, ['4242:SIGTERM']);
});

test('the system process control never signals group 0, 1 or -1 and knows its own group', () => {
  for (const pgid of [0, 1, -1, Number.NaN]) {
    // Signal 0 only probes: should the guard ever break, nothing is harmed.
    assert.throws(() => systemProcessControl.killGroup(pgid, 0 as unknown as NodeJS.Signals), /refusing to signal/);
    assert.equal(systemProcessControl.groupAlive(pgid), false);
  }
  const me = systemProcessControl.identify(process.pid);
  assert.ok(me && me.startTime && me.cmdline.length > 0);
  assert.equal(systemProcessControl.ownGroup(), me.pgid);
  assert.throws(() => systemProcessControl.killGroup(me.pgid, 0 as unknown as NodeJS.Signals), /refusing to signal/);
});

test('a real foreign process named in run.json survives stop', async () => {
  const victim = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', cwd: tmpdir() });
  await new Promise((r) => victim.once('spawn', r));
  try {
    const pid = victim.pid as number;
    const rec = await record({ pgid: pid, pid });
    const backend = new LocalBackend({ runsDir: tmpdir(), command: [] });
    await assert.rejects(backend.stop(rec, 100), /not in the run folder|not an engine of the run folder/);
    assert.equal(systemProcessControl.groupAlive(pid), true, 'the foreign process is untouched');
    assert.equal(victim.exitCode, null);
    assert.equal(victim.signalCode, null);
  } finally {
    victim.kill('SIGKILL');
  }
});

test('the store never replaces a final status by "unknown" or "starting"', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'final-')));
  const rec: RunRecord = { id: 'a', name: 'a', target: { kind: 'local' }, engineArgs: [], dir: '/x', localDir: '/x', createdAt: 1, status: 'running' };
  await store.save(rec);
  await store.save({ ...rec, status: 'unknown' });
  assert.equal((await store.get('a'))?.status, 'unknown', 'a running record may become unknown');
  for (const final of ['completed', 'stopped', 'failed'] as const) {
    await store.save({ ...rec, status: final });
    await store.save({ ...rec, status: 'unknown' });
    await store.save({ ...rec, status: 'starting' });
    assert.equal((await store.get('a'))?.status, final);
  }
});
