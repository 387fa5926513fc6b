// `sltrain launch --slurm local|HOST …`: the cluster a run is submitted to, from the command line.
import { UsageError, type FlagSpec } from './args';
import { clusterProblem, hostFromText, LOCAL_LOGIN, MAX_GPUS_PER_NODE, MAX_NODES } from '../core/runs/slurm/cluster';
import type { ClusterSpec, RunTarget } from '../core/runs/types';

export const SLURM_FLAGS: Record<string, FlagSpec> = {
  slurm: { type: 'string' }, partition: { type: 'string' }, account: { type: 'string' }, qos: { type: 'string' },
  time: { type: 'string' }, 'gpus-per-node': { type: 'number', integer: true, min: 0, max: MAX_GPUS_PER_NODE },
  'work-dir': { type: 'string' }, setup: { type: 'string' }, 'no-requeue': { type: 'bool' },
};

export const SLURM_USAGE = '       sltrain launch --slurm local|HOST [--partition P] [--nodes N] [--gpus-per-node G] [--time T] [--account A] [--qos Q]\n'
  + '                      [--work-dir DIR] [--setup \'module load cuda\'] [--no-requeue] [--identity FILE] [--python PY] [--detach] [--json] -- ENGINE_ARGS...\n'
  + '  --slurm: submit with sbatch from the login node (local: this machine); --work-dir: on the cluster\'s shared file system (default ~/.sltrain)';

const ONLY_SLURM = ['partition', 'account', 'qos', 'time', 'gpus-per-node', 'work-dir', 'setup', 'no-requeue'];

/** The Slurm target the flags ask for, undefined without --slurm (UsageError for a bad value). */
export function slurmTarget(flags: Map<string, string | number | boolean>, localUser: string): RunTarget | undefined {
  const login = flags.get('slurm');
  const str = (k: string): string | undefined => (typeof flags.get(k) === 'string' ? String(flags.get(k)) : undefined);
  if (typeof login !== 'string') {
    const stray = ONLY_SLURM.find((k) => flags.has(k));
    if (stray) throw new UsageError(`--${stray} is an option of --slurm launches; add --slurm local|HOST.`);
    return undefined;
  }
  for (const k of ['host', 'nproc-per-node']) if (flags.has(k)) throw new UsageError(`--${k} cannot be combined with --slurm (use --nodes and --gpus-per-node).`);
  const nodesText = str('nodes') ?? '1';
  if (!/^[1-9]\d*$/.test(nodesText) || Number(nodesText) > MAX_NODES) {
    throw new UsageError(`with --slurm, --nodes is the number of nodes (1 to ${MAX_NODES}); got "${nodesText}".`);
  }
  const identity = str('identity');
  const host = login === LOCAL_LOGIN ? undefined : hostFromText(login, localUser, identity ? { identityFile: identity } : {});
  if (login !== LOCAL_LOGIN && !host) throw new UsageError(`--slurm must be "local" or the login node as NAME or user@host[:port]; got "${login}".`);
  const cluster: ClusterSpec = {
    name: login, nodes: Number(nodesText), gpusPerNode: Number(flags.get('gpus-per-node') ?? 1),
    ...(host ? { login: host } : {}),
    ...(flags.get('no-requeue') === true ? { requeue: false } : {}),
  };
  const fields = { partition: 'partition', account: 'account', qos: 'qos', time: 'time', python: 'python', workDir: 'work-dir' } as const;
  for (const [key, flag] of Object.entries(fields)) {
    const v = str(flag);
    if (v !== undefined) (cluster as unknown as Record<string, unknown>)[key] = v;
  }
  const setup = str('setup');
  if (setup !== undefined) cluster.setupLines = [setup];
  const problem = clusterProblem(cluster);
  if (problem) throw new UsageError(problem);
  return { kind: 'slurm', cluster };
}
