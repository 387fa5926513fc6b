// The real engine launched over SSH (this machine via sshd): a tiny run streamed to the end, and a
// two-"host" torchrun job (two sshd on different ports) whose loss curve equals one process with the
// same global batch. Also: a failing node is reported with its host and last log lines, and stop
// stops every node.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createMultiNodeBackend, createSshBackend } from '../../src/core/ssh/backend';
import type { SshDeps } from '../../src/core/ssh/backend';
import type { HostSpec, RunBackend } from '../../src/core/runs/types';
import { collector, stats } from './harness/collect';
import { testDeps } from './harness/fakes';
import type { TestLogger } from './harness/fakes';
import { makeWorld, remotePython, repoRoot } from './harness/world';
import type { World } from './harness/world';

const ENGINE = join(repoRoot(), 'engine');
const HAS_ENGINE = existsSync(join(ENGINE, 'sltrain', 'train.py'));
const HAS_DDP = HAS_ENGINE && existsSync(join(ENGINE, 'sltrain', 'dist.py'));
const TINY = ['--model', 'llama_tiny', '--seq-len', '32', '--device', 'cpu', '--eval-every', '0', '--num-threads', '1', '--seed', '1'];

let w: World;
let deps: SshDeps & { logger: TestLogger };
let ssh: RunBackend;
let multi: RunBackend;
const sampledHosts = new Set<string>();
before(async () => {
  w = await makeWorld(2, true); // with a stand-in nvidia-smi on both "hosts"
  // Pin gloo to loopback: the test's traffic must stay on 127.0.0.1.
  deps = { ...testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: ENGINE }),
    runEnv: { GLOO_SOCKET_IFNAME: 'lo', OMP_NUM_THREADS: '1' }, samples: (s) => sampledHosts.add(s.host) };
  ssh = createSshBackend(deps);
  multi = createMultiNodeBackend(deps);
});
after(async () => { await w.close(); });

type Ev = Record<string, unknown>;
const losses = (evs: Ev[]): number[] => evs.filter((e) => e.event === 'step').map((e) => Number(e.loss));

async function runToEnd(b: RunBackend, id: string, target: HostSpec | HostSpec[], args: string[]): Promise<{ evs: Ev[]; lat: number[] }> {
  const t = Array.isArray(target) ? { kind: 'multinode' as const, hosts: target, nprocPerNode: 1 } : { kind: 'ssh' as const, host: target };
  const rec = await b.launch({ id, name: id, target: t, engineArgs: args });
  const got = collector();
  await b.follow(rec, 0, got.onBytes, new AbortController().signal);
  const evs = got.events();
  assert.equal(await b.status(rec), 'completed', JSON.stringify(evs.filter((e) => e.event === 'error')));
  const lat = evs.map((e, i) => got.arrivals[i] - Number(e.time)).filter((_, i) => Number(evs[i].time) > got.arrivals[0]);
  return { evs, lat };
}

test('real engine: llama_tiny 30 steps launched over SSH and streamed',
  { skip: HAS_ENGINE ? false : 'the engine (engine/sltrain/train.py) is not there' }, async () => {
  const { evs, lat } = await runToEnd(ssh, 'tiny', w.host(0), [...TINY, '--steps', '30', '--batch-size', '2']);
  assert.equal(evs[0].event, 'start');
  const l = losses(evs);
  assert.equal(l.length, 30);
  assert.ok(l.every(Number.isFinite));
  assert.equal(evs[evs.length - 1].event, 'end');
  assert.equal(evs[evs.length - 1].status, 'completed');
  console.log(`real engine event latency over SSH: ${stats(lat)}`);
});

test('2-node torchrun (gloo) equals one process with the same global batch',
  { skip: HAS_DDP ? false : 'the engine has no DDP support yet (engine/sltrain/dist.py missing)' }, async () => {
    const steps = ['--steps', '10'];
    const two = await runToEnd(multi, 'mn', [w.host(0), w.host(1)], [...TINY, ...steps, '--batch-size', '2']);
    const one = await runToEnd(ssh, 'mn-ref', w.host(0), [...TINY, ...steps, '--batch-size', '4']);
    assert.equal(two.evs[0].world_size, 2);
    const a = losses(two.evs);
    const b = losses(one.evs);
    assert.equal(a.length, 10);
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-4 * Math.max(1, Math.abs(b[i])), `step ${i + 1}: ${x} vs ${b[i]}`));
    console.log(`2-node losses ${a.map((x) => x.toFixed(5)).join(' ')}`);
    assert.deepEqual([...sampledHosts].sort(), ['test0', 'test1'], 'GPU samples from every node');
  });

test('a failing node is reported with its host and log; stop stops every node',
  { skip: HAS_ENGINE ? false : 'the engine (engine/sltrain/train.py) is not there' }, async () => {
  // Node 1's "python" runs the real one for checks but dies when torchrun is started.
  const wrapper = join(w.dir, 'python-broken');
  writeFileSync(wrapper, `#!/bin/bash\nif [ "$2" = torch.distributed.run ]; then echo "simulated node failure: NCCL error" >&2; exit 7; fi\n`
    + `exec ${remotePython()} "$@"\n`, { mode: 0o755 });
  const rec = await multi.launch({ id: 'mn-fail', name: 'mn-fail', engineArgs: [...TINY, '--steps', '10000', '--batch-size', '2'],
    target: { kind: 'multinode', hosts: [w.host(0), w.host(1, { python: wrapper })], nprocPerNode: 1 } });
  const ac = new AbortController();
  const following = multi.follow(rec, 0, () => undefined, ac.signal);
  const end = Date.now() + 30_000;
  while (!deps.logger.lines.some((l) => l.startsWith('error: Node 1 (test1) failed'))) {
    assert.ok(Date.now() < end, 'the failing node was not reported');
    await new Promise((r) => setTimeout(r, 200));
  }
  const report = deps.logger.lines.find((l) => l.startsWith('error: Node 1')) ?? '';
  assert.match(report, /exit code 7/);
  assert.match(report, /simulated node failure: NCCL error/);
  assert.equal(await multi.status(rec), 'failed');
  await multi.stop(rec, 2000);
  ac.abort();
  await following;
  assert.ok(rec.pgid);
  assert.throws(() => process.kill(-(rec.pgid ?? 0), 0), 'node 0 process group is gone');
});
