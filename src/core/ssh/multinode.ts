// Multi-node launch: one detached torchrun per host, events followed from rank 0's node, every node
// stopped together, and a failing node named with its host and last log lines. The rendezvous is
// static (--node-rank, --master-addr/port of the first host) rather than c10d, whose rank assignment
// is first-come: global rank 0, which writes the events and checkpoints, must be on the first host.
import { homedir } from 'node:os';
import { posix } from 'node:path';
import type { HostSpec, LaunchSpec, RunBackend, RunRecord, RunStatus } from '../runs/types';
import type { SshSession } from './connection';
import type { SshDeps } from './deps';
import { SshError } from './errors';
import { followRemote, sleep } from './follow';
import { streamGpuSamples } from './gpuSamples';
import type { HostReport } from './hostCheck';
import { checkRunId, engineEnv, prepareHost, resolveWorkDir, startDetached } from './hostSession';
import { shQuote } from './quote';
import { logTailScript, stateScript, stopScript } from './remoteScripts';
import { EVENTS_FILE, localRunDir, stopOn, unknownWhenUnreachable, withSession } from './runHelpers';
import { parseRemoteState } from './runState';
import { effectiveHost } from './sshConfig';
import type { RemoteState } from './runState';

const WATCH_MS = 3000;

export interface NodeState extends RemoteState {
  rank: number;
  host: string;
  lastLog: string;
}

function nodes(record: RunRecord): { hosts: HostSpec[]; nproc: number } {
  if (record.target.kind !== 'multinode') throw new Error(`Run ${record.id} is not a multi-node run.`);
  return { hosts: record.target.hosts, nproc: record.target.nprocPerNode };
}

async function nodeDir(session: SshSession, host: HostSpec, id: string, rank: number): Promise<string> {
  return posix.join(await resolveWorkDir(session, host.workDir), 'runs', id, `node${rank}`);
}

/** A free TCP port on the first host, asked of the host itself (the rendezvous binds there). */
async function freePort(session: SshSession, python: string): Promise<number> {
  const code = 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])';
  const port = Number((await session.exec(`${shQuote(python)} -c ${shQuote(code)}`)).stdout.trim());
  if (!Number.isInteger(port) || port <= 0) throw new SshError('remote', `Cannot pick a rendezvous port on ${session.where}.`);
  return port;
}

export async function nodeStates(record: RunRecord, deps: SshDeps, logLines = 20): Promise<NodeState[]> {
  const { hosts } = nodes(record);
  return Promise.all(hosts.map((host, rank) => withSession(host, deps, async (s) => {
    const dir = await nodeDir(s, host, record.id, rank);
    const state = parseRemoteState((await s.exec(stateScript(dir, EVENTS_FILE))).stdout);
    const lastLog = state.status === 'failed' ? (await s.exec(logTailScript(dir, logLines))).stdout : '';
    return { ...state, rank, host: host.name, lastLog };
  })));
}

export function describeNodeFailure(n: NodeState): string {
  return `Node ${n.rank} (${n.host}) failed${n.exitCode !== undefined ? ` with exit code ${n.exitCode}` : ''}. `
    + `Last log lines:\n${n.lastLog.trimEnd() || '(empty log)'}`;
}

/** Any failed node fails the run (the others would only wait for it until a timeout). */
export function combineNodeStates(states: NodeState[]): RunStatus {
  if (states.some((n) => n.status === 'failed')) return 'failed';
  if (states.some((n) => n.status === 'running')) return 'running';
  if (states.some((n) => n.status === 'stopped')) return 'stopped';
  if (states.every((n) => n.status === 'completed')) return 'completed';
  return 'unknown';
}

async function watchOtherNodes(record: RunRecord, deps: SshDeps, signal: AbortSignal): Promise<void> {
  const reported = new Set<number>();
  while (!signal.aborted) {
    await sleep(WATCH_MS, signal);
    if (signal.aborted) return;
    try {
      for (const n of await nodeStates(record, deps)) {
        if (n.status === 'failed' && !reported.has(n.rank)) {
          reported.add(n.rank);
          deps.logger.error(describeNodeFailure(n));
        }
      }
    } catch (err) {
      deps.logger.warn(`Cannot check the other nodes: ${(err as Error).message}`);
    }
  }
}

/** GPU samples from the nodes other than rank 0's (followRemote samples that one), retried on drops. */
async function sampleOtherNodes(hosts: HostSpec[], deps: SshDeps, signal: AbortSignal): Promise<void> {
  const onSample = deps.samples;
  if (!onSample) return;
  await Promise.all(hosts.slice(1).map(async (host) => {
    while (!signal.aborted) {
      const more = await withSession(host, deps, (s) => streamGpuSamples(s, host.name, WATCH_MS, onSample, signal))
        .catch(() => true);
      if (!more) return;
      await sleep(WATCH_MS, signal);
    }
  }));
}

export function createMultiNodeOps(deps: SshDeps): RunBackend {
  const reports = new Map<string, HostReport>();
  // Rank 0's leader is checked against the pid and start time the launch recorded; the others against
  // their own folder. A node that is down or refuses fails the stop after every other node was tried.
  const stopAll = async (record: RunRecord, graceMs: number): Promise<void> => {
    const results = await Promise.allSettled(nodes(record).hosts.map((host, rank) => stopOn(host, deps, async (s) =>
      s.exec(stopScript(await nodeDir(s, host, record.id, rank), graceMs,
        rank === 0 ? { pid: record.pid, startTime: record.startTime } : {})))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  return {
    async launch(spec: LaunchSpec): Promise<RunRecord> {
      checkRunId(spec.id);
      if (spec.target.kind !== 'multinode' || spec.target.hosts.length < 1) throw new Error('A multi-node launch needs hosts.');
      const { hosts, nprocPerNode } = spec.target;
      const record: RunRecord = {
        id: spec.id, name: spec.name, target: spec.target, engineArgs: spec.engineArgs, dir: '',
        localDir: localRunDir(deps, spec.id), createdAt: Date.now(), status: 'starting',
        ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
      };
      let masterPort = 0;
      // The address the other nodes dial: the first host after ~/.ssh/config (HostName), not its alias.
      const masterAddr = effectiveHost(hosts[0], deps.homeDir ?? homedir()).host;
      // Prepare every node first: a host without torch must fail the launch before any node starts.
      const prepared = await Promise.all(hosts.map((host, rank) => withSession(host, deps, async (s) => {
        const prep = await prepareHost(s, host, deps, reports);
        if (rank === 0) masterPort = await freePort(s, prep.python);
        return prep;
      })));
      try {
        const pids = await Promise.all(hosts.map((host, rank) => withSession(host, deps, async (s) => {
          const prep = prepared[rank];
          const dir = posix.join(prep.workDir, 'runs', spec.id, `node${rank}`);
          const argv = [prep.python, '-m', 'torch.distributed.run', '--nnodes', String(hosts.length),
            '--node-rank', String(rank), '--nproc-per-node', String(nprocPerNode), '--master-addr', masterAddr,
            '--master-port', String(masterPort), '-m', 'sltrain.train', ...spec.engineArgs, '--out', dir];
          const job = await startDetached(s, dir, { argv, env: engineEnv(deps, prep.engineCopy, spec.name) });
          if (rank === 0) record.dir = dir;
          return job;
        }).catch((err: Error) => { throw new SshError('remote', `Node ${rank} (${host.name}): ${err.message}`); })));
        deps.logger.info(`Started ${spec.name} on ${hosts.length} nodes (rendezvous ${masterAddr}:${masterPort}).`);
        const { pid, startTime } = pids[0];
        return { ...record, pid, pgid: pid, ...(startTime !== undefined ? { startTime } : {}), status: 'running' };
      } catch (err) {
        await stopAll(record, 0).catch(() => undefined);
        throw err;
      }
    },
    async follow(record, offset, onBytes, signal): Promise<void> {
      const { hosts } = nodes(record);
      const watcher = new AbortController();
      const stopWatch = (): void => watcher.abort();
      signal.addEventListener('abort', stopWatch, { once: true });
      const watching = hosts.length > 1
        ? Promise.all([watchOtherNodes(record, deps, watcher.signal), sampleOtherNodes(hosts, deps, watcher.signal)])
        : Promise.resolve();
      try {
        await followRemote({ host: hosts[0], dir: record.dir, file: EVENTS_FILE }, offset, onBytes, signal, deps);
      } finally {
        watcher.abort();
        signal.removeEventListener('abort', stopWatch);
        await watching;
      }
    },
    async status(record): Promise<RunStatus> {
      return unknownWhenUnreachable(deps, async () => combineNodeStates(await nodeStates(record, deps, 0)));
    },
    async stop(record, graceMs): Promise<void> {
      await stopAll(record, graceMs);
    },
  };
}
