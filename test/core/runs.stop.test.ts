// Stop against a fake process table and clock: SIGTERM first, SIGKILL only after the grace period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LocalBackend } from '../../src/core/runs/localBackend';
import type { Clock, DetachedSpawn, ProcessControl, ProcessIdentity } from '../../src/core/runs/system';
import type { RunRecord } from '../../src/core/runs/types';

class FakeClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

class FakeProcesses implements ProcessControl {
  signals: string[] = [];
  alive = true;
  /** The run folder the fake leader 4242 runs in (its cwd and `--out`). */
  dir = '';
  constructor(private readonly diesOn: NodeJS.Signals) {}
  identify(pid: number): ProcessIdentity | undefined {
    return this.alive && pid === 4242
      ? { startTime: '777', pgid: 4242, cwd: this.dir, cmdline: `bash -c ... sltrain-run python -m sltrain.train --out ${this.dir}` }
      : undefined;
  }
  ownGroup(): number {
    return 99;
  }
  async spawnDetached(_spec: DetachedSpawn): Promise<number> {
    return 4242;
  }
  groupAlive(): boolean {
    return this.alive;
  }
  killGroup(pgid: number, signal: NodeJS.Signals): void {
    this.signals.push(`${pgid}:${signal}`);
    if (signal === this.diesOn || signal === 'SIGKILL') this.alive = false;
  }
}

async function runDir(proc?: FakeProcesses): Promise<RunRecord> {
  const dir = await mkdtemp(join(tmpdir(), 'stop-'));
  if (proc) proc.dir = dir;
  await writeFile(join(dir, 'events.jsonl'), '{"v":1,"event":"start","time":1,"rank":0,"config":{}}\n');
  return { id: basename(dir), name: 'r', target: { kind: 'local' }, engineArgs: [], dir, localDir: dir, createdAt: 0, pid: 4242, pgid: 4242, status: 'running' };
}

test('a run that honours SIGTERM is never SIGKILLed', async () => {
  const proc = new FakeProcesses('SIGTERM');
  const backend = new LocalBackend({ runsDir: tmpdir(), command: [], proc, clock: new FakeClock() });
  const rec = await runDir(proc);
  await backend.stop(rec, 10_000);
  assert.deepEqual(proc.signals, ['4242:SIGTERM']);
});

test('a run that ignores SIGTERM is SIGKILLed after the grace period and ends stopped', async () => {
  const proc = new FakeProcesses('SIGKILL');
  const clock = new FakeClock();
  const backend = new LocalBackend({ runsDir: tmpdir(), command: [], proc, clock });
  const rec = await runDir(proc);
  const t0 = clock.now();
  await backend.stop(rec, 5_000);
  assert.deepEqual(proc.signals, ['4242:SIGTERM', '4242:SIGKILL']);
  assert.ok(clock.now() - t0 >= 5_000);
  assert.match(await readFile(join(rec.dir, 'events.jsonl'), 'utf8'), /"event":"end".*"status":"stopped"/);
  assert.equal(await backend.status(rec), 'stopped');
});

test('status: exit code without an end event, and a dead process without an exit code', async () => {
  const proc = new FakeProcesses('SIGTERM');
  proc.alive = false;
  const backend = new LocalBackend({ runsDir: tmpdir(), command: [], proc, clock: new FakeClock() });
  const rec = await runDir(proc);
  assert.equal(await backend.status(rec), 'failed');
  await writeFile(join(rec.dir, 'exit_code'), '0\n');
  assert.equal(await backend.status(rec), 'completed');
  await writeFile(join(rec.dir, 'exit_code'), '3\n');
  assert.equal(await backend.status(rec), 'failed');
  proc.alive = true;
  assert.equal(await backend.status(rec), 'failed', 'an exit code wins over a live pgid (pid reuse)');
});
