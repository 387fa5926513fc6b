// The pure side of Slurm runs: the one status function over every scheduler state, reading what
// squeue/scontrol/sacct print (accounting present or not), cluster validation and the allocation the
// plan's GPU count becomes, the sbatch arguments, and `launch --slurm` flag errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args';
import { slurmTarget } from '../../src/cli/slurmArgs';
import { decideStatus, type RunFacts } from '../../src/core/runs/runModel';
import { allocationFor, clusterProblem, clustersFromSettings } from '../../src/core/runs/slurm/cluster';
import { jobScript, sbatchArgv, type JobParts } from '../../src/core/runs/slurm/scripts';
import { parseJobState, schedulerLine } from '../../src/core/runs/slurm/state';
import { describeTarget, layoutFor, targetKind } from '../../src/core/runs/targets';
import type { ClusterSpec } from '../../src/core/runs/types';

const base: RunFacts = { alive: false, launched: true, stopRequested: false };
const sched = (state: string, more: Partial<RunFacts> = {}, requeue = true): RunFacts => ({ ...base, ...more, scheduler: { state, requeue } });

test('decideStatus: every Slurm state, with the engine\'s end event where it knows better', () => {
  for (const s of ['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'CONFIGURING', 'SUSPENDED']) assert.equal(decideStatus(sched(s)), 'queued', s);
  assert.equal(decideStatus(sched('RUNNING')), 'running');
  assert.equal(decideStatus(sched('COMPLETING')), 'running');
  assert.equal(decideStatus(sched('COMPLETED')), 'completed');
  // The engine stopped on the time-limit warning and the job ended without requeue: stopped, resumable.
  assert.equal(decideStatus(sched('COMPLETED', { end: 'stopped' })), 'stopped');
  assert.equal(decideStatus(sched('COMPLETED', { exitCode: 3 })), 'failed');
  assert.equal(decideStatus(sched('FAILED', { exitCode: 1 })), 'failed');
  assert.equal(decideStatus(sched('OUT_OF_MEMORY')), 'failed');
  assert.equal(decideStatus(sched('CANCELLED')), 'stopped');
  assert.equal(decideStatus(sched('TIMEOUT')), 'failed');
  assert.equal(decideStatus(sched('TIMEOUT', { end: 'stopped' })), 'stopped');
  assert.equal(decideStatus(sched('PREEMPTED')), 'queued');
  assert.equal(decideStatus(sched('PREEMPTED', {}, false)), 'stopped');
  // A state this version does not know, or none (the job aged out, no accounting): the folder decides.
  assert.equal(decideStatus(sched('SOMETHING_NEW', { end: 'completed' })), 'completed');
  assert.equal(decideStatus({ ...base, launched: false }), 'unknown');
});

test('decideStatus: the local and SSH facts as before', () => {
  assert.equal(decideStatus({ ...base, alive: true }), 'running');
  assert.equal(decideStatus({ ...base, end: 'stopped', exitCode: 0 }), 'stopped');
  assert.equal(decideStatus({ ...base, exitCode: 0 }), 'completed');
  assert.equal(decideStatus({ ...base, exitCode: 143, stopRequested: true }), 'stopped');
  assert.equal(decideStatus({ ...base, exitCode: 143 }), 'failed');
  assert.equal(decideStatus({ ...base, stopRequested: true }), 'stopped');
  assert.equal(decideStatus({ ...base }), 'failed');
  assert.equal(decideStatus({ ...base, foreign: true }), 'unknown');
  assert.equal(decideStatus({ ...base, launched: false, starting: true }), 'failed');
});

const OUT = (squeue: string, scontrol: string, sacct: string, files = '', evs = '', log = ''): string =>
  `@squeue\n${squeue}\n@scontrol\n${scontrol}\n@sacct\n${sacct}\n@files\n${files}\n@events\n${evs}\n@log\n${log}\n`;

test('parseJobState: squeue first, scontrol for exit code and restarts, sacct only when it has rows', () => {
  const pending = parseJobState('7', OUT('PENDING|Resources|2026-12-02T09:00:00|',
    'JobId=7 JobName=sltrain-x JobState=PENDING Reason=Resources StartTime=2026-12-02T09:00:00 NodeList= ExitCode=0:0 Restarts=0',
    'Slurm accounting storage is disabled'), true);
  assert.deepEqual(pending.info, { jobId: '7', state: 'PENDING', reason: 'Resources', expectedStart: '2026-12-02T09:00:00', exitCode: 0, restarts: 0 });
  assert.equal(decideStatus(pending.facts), 'queued');
  assert.equal(schedulerLine(pending.info), 'job 7 PENDING (Resources) expected start 2026-12-02T09:00:00');

  const failed = parseJobState('8', OUT('', 'JobId=8 JobState=FAILED Reason=NonZeroExitCode NodeList=n[1-2] ExitCode=2:0 Restarts=1', '',
    'exit 2', '{"v":1,"event":"error","message":"bad"}', 'Traceback\nValueError: bad'), true);
  assert.equal(failed.info.state, 'FAILED');
  assert.equal(failed.info.exitCode, 2);
  assert.equal(failed.info.nodes, 'n[1-2]');
  assert.equal(failed.info.logTail, 'Traceback\nValueError: bad');
  assert.equal(decideStatus(failed.facts), 'failed');
  assert.match(schedulerLine(failed.info) ?? '', /FAILED \(NonZeroExitCode\) on n\[1-2\] exit code 2 requeued 1×/);

  // Only sacct still knows the job (it aged out of slurmctld): its state, exit code and nodes.
  const acct = parseJobState('9', OUT('', '', 'CANCELLED by 0|0:15|gpu01'), true);
  assert.equal(acct.info.state, 'CANCELLED');
  assert.equal(acct.info.exitCode, 143);
  assert.equal(decideStatus(acct.facts), 'stopped');

  // Nobody knows the job: the run folder's end event decides, and a requeued start voids an old end.
  const gone = parseJobState('10', OUT('', '', '', 'exit 0', '{"event":"end","status":"completed"}'), true);
  assert.equal(decideStatus(gone.facts), 'completed');
  const restarted = parseJobState('11', OUT('', '', '', '', '{"event":"end","status":"stopped"}\n{"event":"start"}'), true);
  assert.equal(restarted.facts.end, undefined);
});

const cluster: ClusterSpec = { name: 'c', nodes: 1, gpusPerNode: 8 };

test('cluster checks name the field; the plan\'s GPU count becomes nodes × GPUs per node', () => {
  assert.equal(clusterProblem(cluster), undefined);
  assert.match(clusterProblem({ ...cluster, time: '1 day' }) ?? '', /time "1 day" is not a Slurm time limit/);
  for (const t of ['90', '12:00:00', '2-00:00:00', '1-12', 'UNLIMITED']) assert.equal(clusterProblem({ ...cluster, time: t }), undefined, t);
  assert.match(clusterProblem({ ...cluster, nodes: 0 }) ?? '', /nodes must be a whole number from 1/);
  assert.match(clusterProblem({ ...cluster, partition: 'a\nb' }) ?? '', /partition must be one line/);
  assert.match(clusterProblem({ ...cluster, sbatchLines: ['rm -rf /'] }) ?? '', /must be an sbatch option/);
  assert.deepEqual(allocationFor(cluster, 16), { ...cluster, nodes: 2 });
  assert.deepEqual(allocationFor(cluster, 4), { ...cluster, gpusPerNode: 4 });
  assert.match(String(allocationFor(cluster, 12)), /not a whole number of c's nodes of 8 GPUs/);
  assert.deepEqual(layoutFor({ kind: 'slurm', cluster }, 32), { kind: 'slurm', cluster: { ...cluster, nodes: 4 } });
  assert.match(describeTarget({ kind: 'slurm', cluster: { ...cluster, partition: 'gpu' } }), /Slurm cluster c \(this machine as login node\): 1 node × 8 GPUs per node, partition gpu/);
  assert.equal(targetKind({ kind: 'slurm', cluster }).runsHere, false);
});

test('sltrain.clusters: good entries kept, bad ones skipped with the reason', () => {
  const r = clustersFromSettings([
    { name: 'big', login: 'ana@login.hpc:2222', partition: 'gpu', nodes: 2, gpusPerNode: 4, setupLines: ['module load cuda'] },
    { name: 'here' },
    { name: 'bad', time: 'soon' },
    { name: 'big' },
    { login: 'x' },
  ], 'ana');
  assert.deepEqual(r.clusters.map((c) => c.name), ['big', 'here']);
  assert.deepEqual(r.clusters[0].login, { name: 'ana@login.hpc:2222', host: 'login.hpc', port: 2222, user: 'ana' });
  assert.equal(r.clusters[1].login, undefined);
  assert.equal(r.problems.length, 3);
  assert.match(r.problems.join('\n'), /\(bad\): time "soon"/);
});

test('sbatch arguments and the job script quote every value as one word', () => {
  const hostile = `p'q "r" $(x) ;`;
  const parts: JobParts = { runId: 'r1', runName: hostile, dir: '/w/runs/r1', engineDir: '/w/engine', engineArgs: ['--run-name', hostile],
    cluster: { ...cluster, nodes: 2, partition: hostile, account: 'acc', time: '1:00:00', python: '/opt/py thon' } };
  const argv = sbatchArgv(parts);
  assert.ok(argv.includes(`--partition=${hostile}`));
  assert.ok(argv.includes('--gpus-per-node=8') && argv.includes('--nodes=2') && argv.includes('--signal=B:TERM@60'));
  const script = jobScript(parts);
  assert.ok(script.includes(`SLTRAIN_RUN_NAME='p'\\''q "r" $(x) ;'`));
  assert.ok(script.includes(`'/opt/py thon' -m torch.distributed.run --nproc-per-node 8`));
  assert.ok(script.includes(`--run-name 'p'\\''q "r" $(x) ;'`));
});

test('launch --slurm flags: values checked, options of other targets refused', () => {
  const flags = (o: Record<string, string | number | boolean>) => new Map(Object.entries(o));
  const t = slurmTarget(flags({ slurm: 'ana@login:2200', nodes: '2', 'gpus-per-node': 4, time: '2:00:00', qos: 'high' }), 'ana');
  assert.deepEqual(t, { kind: 'slurm', cluster: { name: 'ana@login:2200', nodes: 2, gpusPerNode: 4, time: '2:00:00', qos: 'high',
    login: { name: 'ana@login:2200', host: 'login', port: 2200, user: 'ana' } } });
  assert.equal(slurmTarget(flags({}), 'ana'), undefined);
  assert.throws(() => slurmTarget(flags({ partition: 'gpu' }), 'ana'), (e: Error) => e instanceof UsageError && /add --slurm/.test(e.message));
  assert.throws(() => slurmTarget(flags({ slurm: 'local', nodes: 'h1,h2' }), 'ana'), /--nodes is the number of nodes/);
  assert.throws(() => slurmTarget(flags({ slurm: 'local', host: 'x' }), 'ana'), /--host cannot be combined with --slurm/);
  assert.throws(() => slurmTarget(flags({ slurm: 'local', time: 'tomorrow' }), 'ana'), /not a Slurm time limit/);
  assert.throws(() => slurmTarget(flags({ slurm: 'a b' }), 'ana'), /--slurm must be "local" or the login node/);
});
