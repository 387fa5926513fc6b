// Runs submitted to a real single-node Slurm (its own munged, slurmctld and slurmd, started here):
// submit and follow to completion with hostile strings reaching sbatch literally, a held job pending
// with its reason, a time-limit warning → requeue → resume on the same curve → scancel → stopped with
// a checkpoint, a failing job's exit code and log tail. The SSH login node is in slurm.ssh.test.ts.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSlurmBackend } from '../../src/core/runs/slurm/backend';
import { RunModel } from '../../src/core/runs/runModel';
import { EventStreamParser } from '../../src/core/events/parser';
import type { ClusterSpec, RunRecord } from '../../src/core/runs/types';
import { testLogger } from '../ssh/harness/fakes';
import { repoRoot } from '../ssh/harness/world';
import { skipUnlessSlurm, startCluster, type Cluster } from './harness/cluster';
import { cli, events, lastStep, PYTHON, TINY, waitFor, type CliResult } from './helpers';

const skip = skipUnlessSlurm();
let c: Cluster;
let work: string;
let env: NodeJS.ProcessEnv;

before(() => {
  if (skip) return;
  c = startCluster();
  work = join(c.dir, 'shared');
  mkdirSync(join(work, 'store'), { recursive: true });
  env = { ...c.env, SLTRAIN_RUNS_DIR: join(work, 'store'), SLTRAIN_ENGINE: join(repoRoot(), 'engine') };
  // The backend used in this process runs Slurm's commands on this machine, as on a login node.
  process.env.SLURM_CONF = c.conf;
});
after(() => c?.stop());

const SLURM = () => ['--slurm', 'local', '--gpus-per-node', '0', '--work-dir', work, '--python', PYTHON];

async function runs(): Promise<RunRecord[]> {
  const r = await cli('runs', ['--json'], env, work);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as RunRecord[];
}

async function launched(r: CliResult): Promise<RunRecord> {
  assert.equal(r.code, 0, r.err);
  const id = /launched run (\S+) in/.exec(r.err)?.[1];
  assert.ok(id, r.err);
  const rec = (await runs()).find((x) => x.id === id);
  assert.ok(rec);
  return rec;
}

function state(jobId: string): string {
  return c.slurm('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T|%r']).trim();
}

test('submit with sbatch and follow to completion, hostile strings in every field reaching sbatch and the engine literally', { skip }, async () => {
  const evil = `a'b "c" $(touch PWNED) ; \`touch PWNED2\` \\`;
  const dir = join(work, `w'd $(touch PWNED) "x"`);
  const pyDir = join(work, `py 'bin' $(touch PWNED)`);
  mkdirSync(pyDir, { recursive: true });
  // A wrapper, not a link: a venv's interpreter finds its packages from the path it was started by.
  writeFileSync(join(pyDir, 'python'), `#!/bin/sh\nexec '${PYTHON}' "$@"\n`, { mode: 0o755 });
  const args = ['--slurm', 'local', '--gpus-per-node', '0', '--work-dir', dir, '--python', join(pyDir, 'python'),
    '--account', evil, '--time', '0:10:00', '--setup', 'echo "setup $PWD" > setup.txt'];
  const r = await cli('launch', [...args, '--', ...TINY, '--steps', '4', '--run-name', evil], env, work);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /job script \(saved as job\.sbatch/);
  assert.match(r.out, /end {6}completed at step 4/);
  assert.match(r.err, /job \d+ COMPLETED/);
  const [rec] = await runs();
  assert.equal(rec.status, 'completed');
  assert.equal(rec.scheduler?.state, 'COMPLETED');
  assert.ok(rec.dir.startsWith(dir));
  const script = readFileSync(join(rec.dir, 'job.sbatch'), 'utf8');
  assert.match(script, /srun .* -m torch\.distributed\.run .*--rdzv-backend c10d .*--rdzv-endpoint="\$first:\$port"/);
  assert.match(script, /--signal=B:TERM@60 --requeue/);
  assert.ok(c.slurm('scontrol', ['show', 'job', '-o', rec.scheduler!.jobId]).includes(`Command=${rec.dir}/job.sbatch`));
  // Slurm lower-cases account names; every other byte arrives as typed.
  assert.equal(c.slurm('squeue', ['-h', '-t', 'all', '-j', rec.scheduler!.jobId, '-o', '%a']).trim(), evil.toLowerCase());
  assert.equal(readFileSync(join(rec.dir, 'setup.txt'), 'utf8').trim(), `setup ${rec.dir}`);
  const start = readFileSync(join(rec.dir, 'events.jsonl'), 'utf8').split('\n')[0];
  assert.equal((JSON.parse(start) as { config: { run_name: string } }).config.run_name, evil);
  for (const where of [work, dir, rec.dir, pyDir]) {
    assert.ok(!existsSync(join(where, 'PWNED')) && !existsSync(join(where, 'PWNED2')), `nothing ran in ${where}`);
  }
});

test('a job sbatch refuses is bad input: exit 2 with sbatch\'s reason, and no run record left', { skip }, async () => {
  const before = (await runs()).length;
  const r = await cli('launch', [...SLURM(), '--partition', 'no-such-partition', '--', ...TINY, '--steps', '2'], env, work);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /sbatch refused the job on this machine: .*invalid partition/i);
  assert.equal((await runs()).length, before);
});

test('a held job shows queued with PENDING and its reason; stop cancels it', { skip }, async () => {
  const logger = testLogger();
  const backend = createSlurmBackend({ secrets: { get: async () => undefined }, consent: { confirm: async () => false }, logger,
    engineDir: join(repoRoot(), 'engine'), localRunsDir: join(work, 'store') });
  const cluster: ClusterSpec = { name: 'local', nodes: 1, gpusPerNode: 0, workDir: work, python: PYTHON, sbatchLines: ['--hold'] };
  const rec = await backend.launch({ id: 'held-1', name: 'held', target: { kind: 'slurm', cluster }, engineArgs: [...TINY, '--steps', '3'] });
  assert.equal(rec.status, 'queued');
  assert.equal(await backend.status(rec), 'queued');
  const info = await backend.scheduler!(rec);
  assert.equal(info?.state, 'PENDING');
  assert.equal(info?.reason, 'JobHeldUser');
  // A second launch of the same run id submits nothing new.
  const again = await backend.launch({ id: 'held-1', name: 'held', target: { kind: 'slurm', cluster }, engineArgs: [...TINY, '--steps', '3'] });
  assert.equal(again.scheduler?.jobId, rec.scheduler?.jobId);
  await backend.stop(rec, 5000);
  assert.equal(await backend.status(rec), 'stopped');
  assert.match(state(rec.scheduler!.jobId), /^CANCELLED/);
});

// The two jobs run side by side (the node has a core for each), so the layer takes less time.
describe('jobs side by side', { concurrency: true }, () => {
  test('time-limit warning: the job checkpoints, requeues itself, resumes on the same curve; scancel then stops it with a checkpoint', { skip }, async () => {
    const rec = await launched(await cli('launch', [...SLURM(), '--time', '10', '--detach', '--', ...TINY, '--steps', '100000', '--save-every', '4'], env, work));
    const jobId = rec.scheduler!.jobId;
    // The follower (attach) reads the whole story from the one events.jsonl, across the requeue.
    const attach = cli('attach', [rec.id, '--json'], env, work);
    await waitFor('steps before the limit', () => lastStep(events(rec.dir)) >= 4);
    // Bring the limit near: Slurm sends the batch shell SIGTERM 60 s before it (--signal=B:TERM@60).
    c.slurm('scontrol', ['update', `JobId=${jobId}`, 'TimeLimit=1']);
    const stoppedAt = await waitFor('the engine to stop at the warning', () => events(rec.dir).find((e) => e.event === 'end')?.step);
    await waitFor('the job to be requeued', () => /^PENDING/.test(state(jobId)));
    assert.equal((await runs()).find((x) => x.id === rec.id)?.status, 'queued');
    // Requeued jobs wait two minutes before they are eligible again; the test does not.
    c.slurm('scontrol', ['update', `JobId=${jobId}`, 'TimeLimit=10', 'StartTime=now']);
    await waitFor('the resumed run', () => events(rec.dir).filter((e) => e.event === 'start').length === 2 && lastStep(events(rec.dir)) > stoppedAt + 2);
    const evs = events(rec.dir);
    const starts = evs.filter((e) => e.event === 'start');
    assert.equal(starts[1].resume, true);
    const second = evs.slice(evs.indexOf(starts[1])).find((e) => e.event === 'step');
    assert.equal(second?.step, stoppedAt + 1, 'the resumed run continues from the checkpoint of the stop');
    assert.match(readFileSync(join(rec.dir, 'log'), 'utf8'), /requeued before its time limit/);
    const stop = await cli('stop', [rec.id, '--grace', '60'], env, work);
    assert.equal(stop.code, 0, stop.err);
    assert.match(stop.out, /stopped/);
    const a = await attach;
    // scancel: the engine checkpointed on SIGTERM at the step it stopped, and said so.
    const after = events(rec.dir);
    const end = after.filter((e) => e.event === 'end').pop();
    const ckpt = after.filter((e) => e.event === 'checkpoint').pop();
    assert.equal(end?.status, 'stopped');
    assert.equal(ckpt?.step, end?.step, 'checkpoint written at the step it stopped');
    assert.ok(existsSync(join(rec.dir, 'checkpoints', `step-${ckpt?.step}`)));
    assert.match(state(jobId), /^CANCELLED/);
    // One chart: the run model folds both parts into one increasing step series, ending stopped.
    const model = new RunModel({ id: rec.id, name: rec.name, status: 'queued' });
    model.apply(new EventStreamParser().push(Buffer.from(readFileSync(join(rec.dir, 'events.jsonl')))));
    const steps = model.steps.step;
    assert.ok(steps.every((s, i) => i === 0 || s === steps[i - 1] + 1), 'steps 1, 2, … without a gap or a repeat');
    assert.equal(model.meta.status, 'stopped');
    assert.equal(a.code, 0, a.err);
    assert.equal((a.out.match(/"event":"start"/g) ?? []).length, 2, 'the follower saw both starts');
  });

  test('a failing job reports its exit code and the last log lines', { skip }, async () => {
    const r = await cli('launch', [...SLURM(), '--', ...TINY, '--steps', '3', '--data', join(work, 'no-such-corpus.txt')], env, work);
    // The engine's own exit code (2: bad input), which torchrun reports to Slurm as 1.
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /job \d+ FAILED .*exit code 2/);
    assert.match(r.err, /\[bad_input\] --data .*no-such-corpus\.txt: no such file/);
    assert.match(r.err, /last log lines:\n[\s\S]*sltrain\.train FAILED/);
    const rec = (await runs()).find((x) => x.status === 'failed');
    assert.equal(rec?.scheduler?.exitCode, 2);
  });
});
