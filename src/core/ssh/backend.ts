// RunBackend implementations for one SSH host and for several hosts under torchrun. Each operation
// opens its own short connection, so every method works again after a crash or a dropped link.
import { posix } from 'node:path';
import type { HostSpec, LaunchSpec, RunBackend, RunRecord, RunStatus } from '../runs/types';
import type { SshDeps } from './deps';
import { followRemote } from './follow';
import type { HostReport } from './hostCheck';
import { isTransient, SshError } from './errors';
import { sleep } from './follow';
import { checkRunId, engineEnv, parseJobLine, prepareHost, resolveWorkDir, startDetached } from './hostSession';
import { createMultiNodeOps } from './multinode';
import { identityScript, stateScript, stopScript } from './remoteScripts';
import { EVENTS_FILE, localRunDir, stopOn, unknownWhenUnreachable, withSession } from './runHelpers';
import { parseRemoteState } from './runState';
import { RunUnreachableError } from '../runs/runErrors';
import { processesPerHost, withProcesses } from '../runs/processes';

/** Tries of one launch over fresh connections; the host starts a run id at most once, so retrying is safe. */
const LAUNCH_TRIES = 4;

export type { SshDeps } from './deps';

function sshHost(record: RunRecord): HostSpec {
  if (record.target.kind !== 'ssh') throw new Error(`Run ${record.id} is not an SSH run.`);
  return record.target.host;
}

export function createSshBackend(deps: SshDeps): RunBackend {
  const reports = new Map<string, HostReport>();
  return {
    async launch(spec: LaunchSpec): Promise<RunRecord> {
      checkRunId(spec.id);
      if (spec.target.kind !== 'ssh') throw new Error('createSshBackend only launches on one SSH host.');
      const host = spec.target.host;
      let sent = false;
      for (let attempt = 1; ; attempt++) {
        try {
          return await withSession(host, deps, async (session) => {
            const prep = await prepareHost(session, host, deps, reports);
            const dir = posix.join(prep.workDir, 'runs', spec.id);
            const argv = [...withProcesses([prep.python, '-m', 'sltrain.train'], processesPerHost(spec.target)), ...spec.engineArgs, '--out', dir];
            sent = true;
            const job = await startDetached(session, dir, { argv, env: engineEnv(deps, prep.engineCopy, spec.name) });
            deps.logger.info(`Started ${spec.name} on ${host.name} (pid ${job.pid}) in ${dir}`);
            return {
              id: spec.id, name: spec.name, target: spec.target, engineArgs: spec.engineArgs, dir,
              localDir: localRunDir(deps, spec.id), createdAt: Date.now(), pid: job.pid, pgid: job.pid,
              ...(job.startTime !== undefined ? { startTime: job.startTime } : {}), status: 'running',
              ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
            };
          });
        } catch (err) {
          if (!isTransient(err)) throw err;
          // Once the start was sent the run may be going: the caller keeps its "starting" record.
          if (attempt >= LAUNCH_TRIES) throw sent ? new RunUnreachableError(host.name, (err as Error).message) : err;
          deps.logger.warn(`${(err as Error).message} Launching ${spec.id} again (try ${attempt + 1} of ${LAUNCH_TRIES}); `
            + 'the host starts it at most once.');
          await sleep(500 * attempt);
        }
      }
    },
    async reconcile(record): Promise<RunRecord> {
      if (record.status !== 'starting') return record;
      const host = sshHost(record);
      try {
        return await withSession(host, deps, async (s) => {
          const dir = record.dir || posix.join(await resolveWorkDir(s, host.workDir), 'runs', record.id);
          const job = parseJobLine((await s.exec(identityScript(dir))).stdout);
          const status = parseRemoteState((await s.exec(stateScript(dir, EVENTS_FILE))).stdout).status;
          // "missing": the launch died before the host made the folder, so nothing ever ran.
          const settled = status === 'unknown' ? 'failed' : status;
          return { ...record, dir, status: job ? 'running' : settled,
            ...(job ? { pid: job.pid, pgid: job.pid, ...(job.startTime !== undefined ? { startTime: job.startTime } : {}) } : {}) };
        });
      } catch (err) {
        if (isTransient(err)) return record; // the host cannot tell yet: still "starting"
        throw err;
      }
    },
    follow(record, offset, onBytes, signal): Promise<void> {
      return followRemote({ host: sshHost(record), dir: record.dir, file: EVENTS_FILE }, offset, onBytes, signal, deps);
    },
    async status(record): Promise<RunStatus> {
      return unknownWhenUnreachable(deps, () => withSession(sshHost(record), deps, async (s) =>
        parseRemoteState((await s.exec(stateScript(record.dir, EVENTS_FILE))).stdout).status));
    },
    async stop(record, graceMs): Promise<void> {
      if (!record.dir) throw new SshError('remote', `Run ${record.id} has no run folder on its host yet; list the runs first.`);
      await stopOn(sshHost(record), deps, (s) => s.exec(stopScript(record.dir, graceMs, { pid: record.pid, startTime: record.startTime })));
    },
  };
}

export function createMultiNodeBackend(deps: SshDeps): RunBackend {
  return createMultiNodeOps(deps);
}
