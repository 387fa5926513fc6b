// The target registry: each kind of launch target (this machine, one SSH host, several hosts under
// torchrun, a Slurm cluster) supplies its description, its layout for the plan's GPU count, where its
// run folder lives and its backend. Everything else asks the registry, so adding a kind is one entry
// here plus its backend module, and no other module compares `target.kind`.
import { createLocalBackend, remoteDeps, sshBackend, type BackendContext } from './backends';
import { createSlurmBackend } from './slurm/backend';
import { allocationFor, describeCluster } from './slurm/cluster';
import { jobScript } from './slurm/scripts';
import type { HostSpec, RunBackend, RunTarget } from './types';

type Kind = RunTarget['kind'];
type Of<K extends Kind> = Extract<RunTarget, { kind: K }>;

export interface TargetKind<T extends RunTarget = RunTarget> {
  /** One line for the confirm dialog: where the engine runs. */
  describe(t: T): string;
  /** A short word for lists (`sltrain runs`, the Runs tree). */
  where(t: T): string;
  /** Where the run folder goes, for the confirm dialog; undefined: this machine's runs folder. */
  runDirHint(t: T): string | undefined;
  /**
   * The run folder is this machine's run-store folder (its events.jsonl is read directly, data paths
   * are local ones, the user may pick the runs folder); otherwise it lives on another machine.
   */
  runsHere: boolean;
  /** The engine runs with this machine's Python, which is checked before the launch. */
  localPython: boolean;
  /** Talks to other machines (SSH log, key dialogs, GPU samples). */
  remote: boolean;
  /** The target running the plan's GPU count, or why its layout cannot. */
  withGpus(t: T, gpus: number): RunTarget | string;
  /** What is submitted, shown before the first submission (a batch job's script); none for most kinds. */
  preview?(t: T, spec: { id: string; name: string; engineArgs: string[] }): string | undefined;
  backend(ctx: BackendContext): RunBackend;
}

export function hostAddress(h: HostSpec): string {
  return `${h.user}@${h.host}${h.port === 22 ? '' : `:${h.port}`}`;
}

function torchrunNote(n: number | undefined): string {
  return (n ?? 1) > 1 ? ` with torchrun, ${n} processes` : '';
}

const KINDS: { [K in Kind]: TargetKind<Of<K>> } = {
  local: {
    describe: (t) => `this machine${torchrunNote(t.nprocPerNode)}`,
    where: () => 'local',
    runDirHint: () => undefined,
    runsHere: true, localPython: true, remote: false,
    withGpus: (t, gpus) => (gpus > 1 ? { ...t, nprocPerNode: gpus } : t),
    backend: (ctx) => createLocalBackend(ctx),
  },
  ssh: {
    describe: (t) => (t.host.name === t.host.host ? t.host.name : `${t.host.name} (${hostAddress(t.host)})`) + torchrunNote(t.nprocPerNode),
    where: (t) => t.host.name,
    runDirHint: (t) => `${t.host.name}:${t.host.workDir ?? '~/.sltrain'}/runs/<run id>`,
    runsHere: false, localPython: false, remote: true,
    withGpus: (t, gpus) => (gpus > 1 ? { ...t, nprocPerNode: gpus } : t),
    backend: (ctx) => sshBackend('ssh', ctx),
  },
  multinode: {
    describe: (t) => `${t.hosts.length} hosts with torchrun (${t.hosts.map((h) => h.name).join(', ')}), `
      + `${t.nprocPerNode === 1 ? '1 process' : `${t.nprocPerNode} processes`} per node`,
    where: (t) => `${t.hosts.length} nodes`,
    runDirHint: (t) => `${t.hosts[0].name}:${t.hosts[0].workDir ?? '~/.sltrain'}/runs/<run id>`,
    runsHere: false, localPython: false, remote: true,
    withGpus: (t, gpus) => {
      const processes = t.hosts.length * t.nprocPerNode;
      if (gpus === 1 || processes === gpus) return t;
      return `The plan is for --gpus ${gpus}, but ${t.hosts.length} hosts × ${t.nprocPerNode} processes per node start `
        + `${processes}; pick processes per node so that hosts × processes = ${gpus}, or plan for ${processes} GPUs.`;
    },
    backend: (ctx) => sshBackend('multinode', ctx),
  },
  slurm: {
    describe: (t) => describeCluster(t.cluster),
    where: (t) => `slurm:${t.cluster.name}`,
    runDirHint: (t) => `${t.cluster.login ? `${t.cluster.login.name}:` : ''}${t.cluster.workDir ?? '~/.sltrain'}/runs/<run id>`,
    // On a login node that is this machine the run folder is still the cluster's (shared) work folder.
    runsHere: false, localPython: false, remote: true,
    withGpus: (t, gpus) => {
      const cluster = allocationFor(t.cluster, gpus);
      return typeof cluster === 'string' ? cluster : { ...t, cluster };
    },
    preview: (t, spec) => {
      const dir = `${t.cluster.workDir ?? '~/.sltrain'}/runs/${spec.id}`;
      return jobScript({ runId: spec.id, runName: spec.name, dir, cluster: t.cluster, engineDir: '<engine copy>', engineArgs: spec.engineArgs });
    },
    backend: (ctx) => createSlurmBackend({ ...remoteDeps(ctx), engineDir: ctx.engineDir, localRunsDir: ctx.runsDir }),
  },
};

export function targetKind<T extends RunTarget>(t: T): TargetKind<T> {
  const kind = KINDS[t.kind] as unknown as TargetKind<T> | undefined;
  if (!kind) throw new Error(`Unknown launch target "${String((t as { kind: unknown }).kind)}"; this run record is from another version.`);
  return kind;
}

export function backendFor(target: RunTarget, ctx: BackendContext): RunBackend {
  return targetKind(target).backend(ctx);
}

export const describeTarget = (t: RunTarget): string => targetKind(t).describe(t);
export const targetWhere = (t: RunTarget): string => targetKind(t).where(t);
export const remoteRunDirHint = (t: RunTarget): string | undefined => targetKind(t).runDirHint(t);
export const layoutFor = (t: RunTarget, gpus: number): RunTarget | string => targetKind(t).withGpus(t, gpus);
export const previewLaunch = (t: RunTarget, spec: { id: string; name: string; engineArgs: string[] }): string | undefined =>
  targetKind(t).preview?.(t, spec);
