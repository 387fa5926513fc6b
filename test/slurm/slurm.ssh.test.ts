// Submission over SSH: the login node is a real sshd on loopback (the SSH tests' harness) whose
// sessions see the test cluster's SLURM_CONF, as a real login node's would. The engine is uploaded
// into the cluster's work folder, the job is submitted and followed there to completion.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSlurmBackend } from '../../src/core/runs/slurm/backend';
import { followRun } from '../../src/core/runs/follower';
import type { EngineEvent } from '../../src/core/events/types';
import type { ClusterSpec } from '../../src/core/runs/types';
import { testDeps } from '../ssh/harness/fakes';
import { keygen, startSshd, type Sshd } from '../ssh/harness/sshd';
import { knownHostsEntry, repoRoot, USER } from '../ssh/harness/world';
import { skipUnlessSlurm, startCluster, type Cluster } from './harness/cluster';
import { PYTHON, TINY } from './helpers';

const skip = skipUnlessSlurm();
let c: Cluster;
let sshd: Sshd;
let home: string;
let key: string;

before(async () => {
  if (skip) return;
  c = startCluster();
  home = join(c.dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  key = join(c.dir, 'client_key');
  keygen(key);
  sshd = await startSshd(join(c.dir, 'sshd'), [`${key}.pub`], undefined, ['PasswordAuthentication no', `SetEnv SLURM_CONF=${c.conf}`]);
  writeFileSync(join(home, '.ssh', 'known_hosts'), knownHostsEntry(sshd));
});
after(async () => {
  await sshd?.stop();
  c?.stop();
});

test('submit over SSH to the login node, follow the job to completion, read its state', { skip }, async () => {
  const deps = testDeps({ home, knownHosts: join(home, '.ssh', 'known_hosts'), engineDir: join(repoRoot(), 'engine') });
  const backend = createSlurmBackend({ ...deps, localRunsDir: join(c.dir, 'store') });
  const cluster: ClusterSpec = {
    name: 'login', nodes: 1, gpusPerNode: 0, python: PYTHON, workDir: join(c.dir, 'shared'), partition: 'debug',
    login: { name: 'login', host: '127.0.0.1', port: sshd.port, user: USER, identityFile: key },
  };
  const rec = await backend.launch({ id: 'over-ssh', name: 'over ssh', target: { kind: 'slurm', cluster }, engineArgs: [...TINY, '--steps', '4'] });
  assert.match(rec.dir, /shared\/runs\/over-ssh$/);
  assert.ok(/^\d+$/.test(rec.scheduler?.jobId ?? ''), JSON.stringify(rec));
  assert.match(deps.logger.lines.join('\n'), /Submitted over ssh to login as job \d+/);
  const seen: EngineEvent[] = [];
  const abort = new AbortController();
  await followRun(backend, rec, 0, (evs) => void seen.push(...evs), abort.signal);
  assert.deepEqual(seen.filter((e) => e.event === 'step').map((e) => (e as { step: number }).step), [1, 2, 3, 4]);
  assert.equal(seen.at(-1)?.event, 'end');
  assert.equal(await backend.status(rec), 'completed');
  const info = await backend.scheduler!(rec);
  assert.equal(info?.state, 'COMPLETED');
  // The engine copy the job ran is the one uploaded into the cluster's work folder.
  const script = readFileSync(join(rec.dir, 'job.sbatch'), 'utf8');
  assert.match(script, new RegExp(`export PYTHONPATH=${join(c.dir, 'shared')}/\\S*engine-[0-9a-f]{12}`));
});
