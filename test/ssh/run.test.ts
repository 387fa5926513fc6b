// A detached run on a real sshd (this machine): streamed, reattached after a killed connection with
// every byte exactly once, and stopped with its whole process group.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createSshBackend } from '../../src/core/ssh/backend';
import type { LaunchSpec, RunBackend, RunRecord } from '../../src/core/runs/types';
import type { GpuSample } from '../../src/core/ssh/deps';
import { collector, stats } from './harness/collect';
import { testDeps } from './harness/fakes';
import { fixtureEngine, groupAlive, makeWorld } from './harness/world';
import type { World } from './harness/world';

let w: World;
let backend: RunBackend;
const samples: GpuSample[] = [];
before(async () => {
  w = await makeWorld(1, true);
  backend = createSshBackend({ ...testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() }),
    samples: (s) => samples.push(s) });
});
after(async () => { await w.close(); });

const spec = (id: string, engineArgs: string[]): LaunchSpec => ({ id, name: id, target: { kind: 'ssh', host: w.host() }, engineArgs });

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('launch, stream to the end, status completed; event latency', async () => {
  const rec = await backend.launch(spec('stream', ['--steps', '20', '--sleep', '0.1']));
  assert.equal(rec.status, 'running');
  assert.ok(rec.pgid && rec.pgid > 0);
  const got = collector();
  await backend.follow(rec, 0, got.onBytes, new AbortController().signal);
  const evs = got.events();
  assert.deepEqual(evs.map((e) => e.event), ['start', ...Array(20).fill('step'), 'end']);
  assert.equal(evs[21].status, 'completed');
  assert.ok(got.all().equals(readFileSync(`${rec.dir}/events.jsonl`)));
  assert.equal(await backend.status(rec), 'completed');
  // Only events written after the tail was attached: earlier ones measure the connect, not streaming.
  const lat = evs.map((e, i) => got.arrivals[i] - Number(e.time)).filter((_, i) => Number(evs[i].time) > got.arrivals[0]);
  console.log(`event latency over SSH: ${stats(lat)}`);
  // nvidia-smi (a stand-in here) is sampled while the run is followed.
  assert.ok(samples.length > 0, 'GPU samples while following');
  assert.deepEqual({ ...samples[0], time: 0 }, { host: 'test0', time: 0, gpu: 0, utilizationPct: 87,
    memoryUsedBytes: 40960 * 2 ** 20, memoryTotalBytes: 143771 * 2 ** 20 });
});

test('connection killed mid-run: reattaches and every event arrives exactly once', async () => {
  const rec = await backend.launch(spec('drop', ['--steps', '60', '--sleep', '0.1']));
  let killedAt = 0;
  let reattach = 0;
  let linesAtKill = 0;
  const got = collector((n) => {
    if (n === 10 && killedAt === 0) {
      linesAtKill = n;
      killedAt = Date.now();
      assert.ok(w.servers[0].killConnections() > 0);
    } else if (killedAt > 0 && reattach === 0 && n > linesAtKill) {
      reattach = Date.now() - killedAt;
    }
  });
  await backend.follow(rec, 0, got.onBytes, new AbortController().signal);
  const steps = got.events().filter((e) => e.event === 'step').map((e) => e.step);
  assert.deepEqual(steps, Array.from({ length: 60 }, (_, i) => i + 1));
  assert.ok(got.all().equals(readFileSync(`${rec.dir}/events.jsonl`)), 'byte stream equals the remote file');
  console.log(`reattach after a dropped connection: ${reattach} ms to the next event (events every 100 ms)`);
});

test('follow from a byte offset resumes exactly there', async () => {
  const rec = await backend.launch(spec('offset', ['--steps', '5', '--sleep', '0.01']));
  await until(async () => (await backend.status(rec)) === 'completed', 10_000);
  const whole = readFileSync(`${rec.dir}/events.jsonl`);
  const cut = Math.floor(whole.length / 2) + 1; // likely mid-line, maybe mid-character
  const got = collector();
  await backend.follow(rec, cut, got.onBytes, new AbortController().signal);
  assert.ok(Buffer.concat([whole.subarray(0, cut), got.all()]).equals(whole));
});

async function launchAndStop(id: string, extra: string[], graceMs: number): Promise<RunRecord> {
  const rec = await backend.launch(spec(id, ['--steps', '10000', '--sleep', '0.1', ...extra]));
  const events = `${rec.dir}/events.jsonl`;
  await until(() => existsSync(events) && readFileSync(events, 'utf8').includes('"step"'), 10_000);
  assert.equal(await backend.status(rec), 'running');
  const again = await backend.launch(spec(id, ['--steps', '10000', '--sleep', '0.1', ...extra]));
  assert.equal(again.pgid, rec.pgid, 'a repeated launch returns the running job instead of starting another');
  await backend.stop(rec, graceMs);
  assert.ok(rec.pgid && !groupAlive(rec.pgid), 'the remote process group is gone');
  assert.equal(await backend.status(rec), 'stopped');
  return rec;
}

test('stop: SIGTERM to the process group, the engine ends cleanly, status stopped', async () => {
  const rec = await launchAndStop('stop', [], 5000);
  const evs = readFileSync(`${rec.dir}/events.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string });
  assert.deepEqual(evs[evs.length - 1].status, 'stopped');
});

test('stop: a job ignoring SIGTERM is killed after the grace period', async () => {
  const t0 = Date.now();
  await launchAndStop('stopkill', ['--ignore-term'], 800);
  assert.ok(Date.now() - t0 >= 800);
});
