// RunBackend for Slurm: submits the run's job script with sbatch from the login node, follows the
// run folder's events.jsonl on the cluster's shared file system from the byte offset, asks
// squeue/scontrol/sacct for the job's state and cancels with scancel. Every operation opens its own
// login shell, so each works again after a crash, a reload or a dropped connection.
import { posix } from 'node:path';
import type { LaunchSpec, RunBackend, RunRecord, RunStatus, SchedulerInfo } from '../types';
import type { SshDeps } from '../../ssh/deps';
import { ensureEngine } from '../../ssh/engineUpload';
import { isTransient } from '../../ssh/errors';
import { checkRunId } from '../../ssh/hostSession';
import { STOP_REFUSED } from '../../ssh/remoteScripts';
import { localRunDir } from '../../ssh/runHelpers';
import { shQuote } from '../../ssh/quote';
import { RunUnreachableError, StopRefusedError } from '../runErrors';
import { decideStatus } from '../runModel';
import { clusterProblem } from './cluster';
import { cancelScript, EXIT_NO_DIR, EXIT_SBATCH, jobIdScript, readScript, stateScript, submitScript, type JobParts } from './scripts';
import { openLogin, withLogin, type LoginShell } from './shell';
import { parseJobState, type JobState } from './state';

const POLL_MS = 1000;
const GIVE_UP_MS = 5 * 60_000;
/** After the grace period Slurm's own KillWait still runs; a job not gone by then gets SIGKILL. */
const KILL_WAIT_MS = 35_000;

function clusterOf(record: { id: string; target: RunRecord['target'] }) {
  if (record.target.kind !== 'slurm') throw new Error(`Run ${record.id} is not a Slurm run.`);
  return record.target.cluster;
}

export const jobName = (runId: string): string => `sltrain-${runId}`;

/** sbatch refused the job (an unknown partition, account or QoS, a limit): bad input, nothing runs. */
export class SubmitRefusedError extends Error {}

/** Waits `ms`, or less when `signal` aborts; leaves no listener behind (follow waits thousands of times). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function isDone(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'stopped';
}

export function createSlurmBackend(deps: SshDeps): RunBackend {
  const workDir = async (sh: LoginShell, wd: string | undefined): Promise<string> => {
    const w = wd ?? '~/.sltrain';
    if (w !== '~' && !w.startsWith('~/')) return w;
    const home = await sh.home();
    return w === '~' ? home : posix.join(home, w.slice(2));
  };

  const jobState = async (sh: LoginShell, record: RunRecord): Promise<JobState | undefined> => {
    const jobId = record.scheduler?.jobId;
    if (!jobId || !record.dir) return undefined;
    const r = await sh.exec(stateScript(jobId, record.dir));
    return parseJobState(jobId, r.stdout, clusterOf(record).requeue !== false);
  };

  const statusWith = async (sh: LoginShell, record: RunRecord): Promise<RunStatus> => {
    const state = await jobState(sh, record);
    if (!state) return record.status === 'starting' ? 'starting' : 'unknown';
    return decideStatus(state.facts);
  };

  /** A login node that cannot be reached says nothing about the job: "unknown", logged. */
  const reachable = async <T>(fallback: T, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      deps.logger.warn((err as Error).message);
      return fallback;
    }
  };

  return {
    async launch(spec: LaunchSpec): Promise<RunRecord> {
      checkRunId(spec.id);
      const cluster = clusterOf(spec);
      const problem = clusterProblem(cluster);
      if (problem) throw new Error(`Cluster ${cluster.name}: ${problem}`);
      if (spec.engineArgs.some((a) => a === '--out' || a.startsWith('--out='))) {
        throw new Error('--out is chosen by the launch (the run folder in the cluster\'s work folder); leave it out.');
      }
      return withLogin(cluster, deps, async (sh) => {
        const wd = await workDir(sh, cluster.workDir);
        const dir = posix.join(wd, 'runs', spec.id);
        // Over SSH the engine is copied into the work folder (shared with the compute nodes); on a
        // login node that is this machine, the engine folder is used where it is.
        const engineDir = sh.session ? await ensureEngine(sh.session, deps.engineDir, wd, deps.logger) : deps.engineDir;
        const parts: JobParts = { runId: spec.id, runName: spec.name, dir, cluster, engineDir, engineArgs: spec.engineArgs };
        const r = await sh.exec(submitScript(parts));
        if (r.code === undefined) throw new RunUnreachableError(cluster.name, `the connection to ${sh.where} dropped while submitting`);
        if (r.code === EXIT_NO_DIR) throw new Error(`Cannot write the run folder ${dir} on ${sh.where}: ${r.stderr.trim()}`);
        if (r.code === EXIT_SBATCH || r.code !== 0) {
          throw new SubmitRefusedError(`sbatch refused the job on ${sh.where}: ${r.stderr.trim() || `exit ${r.code}`}. `
            + `Check the cluster's partition, account, QoS and time limit; the job script is ${dir}/job.sbatch.`);
        }
        const jobId = r.stdout.trim().split('\n').pop() ?? '';
        deps.logger.info(`Submitted ${spec.name} to ${cluster.name} as job ${jobId}; run folder ${dir}`);
        return {
          id: spec.id, name: spec.name, target: spec.target, engineArgs: spec.engineArgs, dir,
          localDir: localRunDir(deps, spec.id), createdAt: Date.now(), status: 'queued', scheduler: { jobId },
          ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
        };
      });
    },

    async reconcile(record): Promise<RunRecord> {
      if (record.status !== 'starting') return record;
      const cluster = clusterOf(record);
      return reachable(record, () => withLogin(cluster, deps, async (sh) => {
        const dir = record.dir || posix.join(await workDir(sh, cluster.workDir), 'runs', record.id);
        const jobId = (await sh.exec(jobIdScript(dir))).stdout.trim();
        // No job id in the folder: the launch ended before sbatch answered, so nothing was submitted.
        if (!/^\d[\d_]*$/.test(jobId)) return { ...record, dir, status: 'failed' };
        const found: RunRecord = { ...record, dir, scheduler: { jobId } };
        return { ...found, status: await statusWith(sh, { ...found, status: 'queued' }) };
      }));
    },

    async status(record): Promise<RunStatus> {
      return reachable<RunStatus>('unknown', () => withLogin(clusterOf(record), deps, (sh) => statusWith(sh, record)));
    },

    async scheduler(record): Promise<SchedulerInfo | undefined> {
      return reachable<SchedulerInfo | undefined>(record.scheduler, () => withLogin(clusterOf(record), deps, async (sh) => {
        const state = await jobState(sh, record);
        if (!state) return record.scheduler;
        // The log tail is for a failed job's report; a running one's is in the events.
        const { logTail, ...rest } = state.info;
        return decideStatus(state.facts) === 'failed' && logTail ? { ...rest, logTail } : rest;
      }));
    },

    async follow(record, offset, onBytes, signal): Promise<void> {
      const cluster = clusterOf(record);
      let pos = offset;
      const take = (chunk: Buffer): void => { pos += chunk.length; return onBytes(chunk); };
      let failingSince = 0;
      let unknownSince = 0;
      while (!signal.aborted) {
        let sh: LoginShell | undefined;
        try {
          sh = await openLogin(cluster, deps);
          failingSince = 0;
          while (!signal.aborted) {
            // Read first, then ask: bytes written just before the job ended are still read below.
            await sh.stream(readScript(record.dir, pos), take, signal);
            const status = await statusWith(sh, record);
            // "unknown" (the scheduler does not answer, and the folder has no outcome) is waited out a while.
            unknownSince = status === 'unknown' ? unknownSince || Date.now() : 0;
            if (isDone(status) || (unknownSince && Date.now() - unknownSince > GIVE_UP_MS)) {
              await sh.stream(readScript(record.dir, pos), take, signal);
              return;
            }
            await sleep(POLL_MS, signal);
          }
        } catch (err) {
          if (!isTransient(err)) throw err;
          if (failingSince === 0) failingSince = Date.now();
          if (Date.now() - failingSince > GIVE_UP_MS) throw err;
          deps.logger.warn(`${(err as Error).message} Reconnecting to ${cluster.name}…`);
          await sleep(POLL_MS, signal);
        } finally {
          sh?.end();
        }
      }
    },

    async stop(record, graceMs): Promise<void> {
      const jobId = record.scheduler?.jobId;
      if (!jobId || !record.dir) throw new Error(`Run ${record.id} has no Slurm job yet; list the runs first.`);
      const cluster = clusterOf(record);
      try {
        await withLogin(cluster, deps, async (sh) => {
          // Only this run's job is cancelled: the scheduler's name for it must be this run's.
          const name = (await sh.exec(`squeue -h -t all -j ${shQuote(jobId)} -o %j 2>/dev/null; true`)).stdout.trim();
          if (name && name !== jobName(record.id)) {
            throw new StopRefusedError(`job ${jobId} on ${cluster.name} is "${name}", not this run's ${jobName(record.id)}; nothing was cancelled.`);
          }
          const r = await sh.exec(cancelScript(jobId, record.dir));
          if (r.code === STOP_REFUSED) throw new StopRefusedError(r.stderr.trim());
          const deadline = Date.now() + graceMs + KILL_WAIT_MS;
          let killed = false;
          for (;;) {
            const status = await statusWith(sh, record);
            if (status !== 'running' && status !== 'queued') return;
            if (Date.now() > deadline) {
              if (killed) return;
              killed = true;
              await sh.exec(cancelScript(jobId, record.dir, 'KILL'));
            }
            await sleep(500);
          }
        });
      } catch (err) {
        if (isTransient(err)) throw new RunUnreachableError(cluster.name, (err as Error).message);
        throw err;
      }
    },
  };
}
