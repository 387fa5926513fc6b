// RunBackend implementations for one SSH host and for several hosts under torchrun. Each operation
// opens its own short connection, so every method works again after a crash or a dropped link.
import { posix } from 'node:path';
import type { HostSpec, LaunchSpec, RunBackend, RunRecord, RunStatus } from '../runs/types';
import type { SshDeps } from './deps';
import { followRemote } from './follow';
import type { HostReport } from './hostCheck';
import { checkRunId, engineEnv, prepareHost, startDetached } from './hostSession';
import { createMultiNodeOps } from './multinode';
import { stateScript, stopScript } from './remoteScripts';
import { EVENTS_FILE, localRunDir, unknownWhenUnreachable, withSession } from './runHelpers';
import { parseRemoteState } from './runState';

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
      return withSession(host, deps, async (session) => {
        const prep = await prepareHost(session, host, deps, reports);
        const dir = posix.join(prep.workDir, 'runs', spec.id);
        const argv = [prep.python, '-m', 'sltrain.train', ...spec.engineArgs, '--out', dir];
        const pid = await startDetached(session, dir, { argv, env: engineEnv(deps, prep.engineCopy, spec.name) });
        deps.logger.info(`Started ${spec.name} on ${host.name} (pid ${pid}) in ${dir}`);
        return {
          id: spec.id, name: spec.name, target: spec.target, engineArgs: spec.engineArgs, dir,
          localDir: localRunDir(deps, spec.id), createdAt: Date.now(), pid, pgid: pid, status: 'running',
          ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
        };
      });
    },
    follow(record, offset, onBytes, signal): Promise<void> {
      return followRemote({ host: sshHost(record), dir: record.dir, file: EVENTS_FILE }, offset, onBytes, signal, deps);
    },
    async status(record): Promise<RunStatus> {
      return unknownWhenUnreachable(deps, () => withSession(sshHost(record), deps, async (s) =>
        parseRemoteState((await s.exec(stateScript(record.dir, EVENTS_FILE))).stdout).status));
    },
    async stop(record, graceMs): Promise<void> {
      await withSession(sshHost(record), deps, (s) => s.exec(stopScript(record.dir, graceMs)));
    },
  };
}

export function createMultiNodeBackend(deps: SshDeps): RunBackend {
  return createMultiNodeOps(deps);
}
