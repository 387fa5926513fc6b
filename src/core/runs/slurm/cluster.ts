// A Slurm cluster as the user gives it (the `sltrain.clusters` setting, or `sltrain launch --slurm`):
// validated once here, so every later step can pass its strings to sbatch as literal arguments.
import type { ClusterSpec, HostSpec } from '../types';

/** The most nodes and GPUs per node one launch may ask for (a launch argument is untrusted input). */
export const MAX_NODES = 4096;
export const MAX_GPUS_PER_NODE = 64;
/** `--slurm local`: this machine is the login node. */
export const LOCAL_LOGIN = 'local';

// MINUTES, MINUTES:SECONDS, HOURS:MINUTES:SECONDS, DAYS-HOURS[:MINUTES[:SECONDS]], or no limit.
const TIME = /^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$/;

const STRINGS = ['partition', 'account', 'qos', 'time', 'python', 'workDir'] as const;

/** Why a cluster cannot be submitted to, naming the field and what to do; undefined when fine. */
export function clusterProblem(c: ClusterSpec): string | undefined {
  if (!c.name.trim()) return 'A cluster needs a name.';
  if (!Number.isInteger(c.nodes) || c.nodes < 1 || c.nodes > MAX_NODES) return `nodes must be a whole number from 1 to ${MAX_NODES}; got ${c.nodes}.`;
  if (!Number.isInteger(c.gpusPerNode) || c.gpusPerNode < 0 || c.gpusPerNode > MAX_GPUS_PER_NODE) {
    return `GPUs per node must be a whole number from 0 (CPU nodes) to ${MAX_GPUS_PER_NODE}; got ${c.gpusPerNode}.`;
  }
  for (const k of STRINGS) {
    const v = c[k];
    // Control characters cannot be typed into a field on purpose; anything else goes to sbatch literally.
    if (v !== undefined && (v.trim() === '' || /[\0-\x1f\x7f]/.test(v))) return `${k} must be one line of text without control characters (or left out).`;
  }
  if (c.time !== undefined && !TIME.test(c.time)) {
    return `time "${c.time}" is not a Slurm time limit: use MINUTES, HH:MM:SS or DAYS-HH:MM:SS (e.g. 90, 12:00:00, 2-00:00:00).`;
  }
  for (const line of c.sbatchLines ?? []) {
    if (/[\0-\x1f\x7f]/.test(line)) return `The extra #SBATCH line "${line.replace(/[\0-\x1f\x7f]/g, '?')}" must be one line.`;
    if (!/^(#SBATCH\s+)?--?[A-Za-z]/.test(line.trim())) return `The extra #SBATCH line "${line}" must be an sbatch option such as --mem=64G or --constraint=h100.`;
  }
  for (const line of c.setupLines ?? []) {
    if (/[\0\n\r]/.test(line)) return 'Each environment set-up line must be one line (e.g. module load cuda/12.4).';
  }
  return undefined;
}

/** `#SBATCH --x` for an extra line given as `--x` or already as a directive. */
export function sbatchDirective(line: string): string {
  const t = line.trim();
  return t.startsWith('#SBATCH') ? t : `#SBATCH ${t}`;
}

/** Processes torchrun starts on each node: one per GPU, one on CPU nodes. */
export function processesPerNode(c: ClusterSpec): number {
  return Math.max(1, c.gpusPerNode);
}

/** The plan's GPU count as this cluster's allocation (nodes × GPUs per node), or why it cannot be. */
export function allocationFor(c: ClusterSpec, gpus: number): ClusterSpec | string {
  if (gpus <= 1 && c.nodes * c.gpusPerNode <= 1) return c;
  const perNode = c.gpusPerNode;
  if (perNode === 0) return `The plan is for ${gpus} GPUs, but cluster ${c.name} has no GPUs per node; set its GPUs per node.`;
  if (gpus <= perNode) return { ...c, nodes: 1, gpusPerNode: gpus };
  if (gpus % perNode !== 0) {
    return `The plan is for ${gpus} GPUs, which is not a whole number of ${c.name}'s nodes of ${perNode} GPUs; plan for a multiple of ${perNode}.`;
  }
  const nodes = gpus / perNode;
  return nodes > MAX_NODES ? `${gpus} GPUs need ${nodes} nodes, more than the ${MAX_NODES} one launch may ask for.` : { ...c, nodes };
}

export function describeCluster(c: ClusterSpec): string {
  const login = c.login ? `login node ${c.login.name}` : 'this machine as login node';
  const gpus = c.gpusPerNode === 0 ? 'CPU only' : `${c.gpusPerNode} GPU${c.gpusPerNode === 1 ? '' : 's'} per node`;
  const extra = [c.partition && `partition ${c.partition}`, c.account && `account ${c.account}`, c.qos && `QoS ${c.qos}`,
    c.time && `time ${c.time}`].filter(Boolean).join(', ');
  return `Slurm cluster ${c.name} (${login}): ${c.nodes} node${c.nodes === 1 ? '' : 's'} × ${gpus}${extra ? `, ${extra}` : ''}`;
}

/** `user@host[:port]` or a bare ~/.ssh/config name, as the login node. */
export function hostFromText(text: string, localUser: string, extra: Partial<HostSpec> = {}): HostSpec | undefined {
  const m = /^(?:([^@\s]+)@)?([^:@\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))) return undefined;
  return { name: text.trim(), host: m[2], port: m[3] ? Number(m[3]) : 22, user: m[1] ?? localUser, ...extra };
}

export interface SettingsClusters {
  clusters: ClusterSpec[];
  problems: string[];
}

function optString(e: Record<string, unknown>, k: string): string | undefined | Error {
  const v = e[k];
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' ? v.trim() : new Error(`"${k}" must be a string`);
}

function optLines(e: Record<string, unknown>, k: string): string[] | undefined | Error {
  const v = e[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return new Error(`"${k}" must be a list of strings`);
  return (v as string[]).filter((x) => x.trim() !== '');
}

/** Validates `sltrain.clusters` (hand-edited JSON): good entries, and one line per entry skipped. */
export function clustersFromSettings(raw: unknown, localUser: string): SettingsClusters {
  const out: SettingsClusters = { clusters: [], problems: [] };
  if (raw === undefined || raw === null) return out;
  if (!Array.isArray(raw)) return { clusters: [], problems: ['"sltrain.clusters" must be a list of clusters.'] };
  const seen = new Set<string>();
  raw.forEach((entry: unknown, i) => {
    const where = `sltrain.clusters[${i}]`;
    if (typeof entry !== 'object' || entry === null) return void out.problems.push(`${where} is not an object.`);
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== 'string' || !e.name.trim()) return void out.problems.push(`${where} has no "name".`);
    const name = e.name.trim();
    if (seen.has(name)) return void out.problems.push(`${where}: a second cluster named "${name}" is ignored.`);
    const login = typeof e.login === 'string' ? e.login.trim() : LOCAL_LOGIN;
    const fields: Record<string, unknown> = {};
    for (const k of [...STRINGS, 'identityFile']) fields[k] = optString(e, k);
    for (const k of ['sbatchLines', 'setupLines']) fields[k] = optLines(e, k);
    const bad = Object.values(fields).find((v) => v instanceof Error);
    if (bad) return void out.problems.push(`${where} (${name}): ${(bad as Error).message}.`);
    const nodes = e.nodes ?? 1;
    const gpusPerNode = e.gpusPerNode ?? 1;
    if (typeof nodes !== 'number' || typeof gpusPerNode !== 'number') return void out.problems.push(`${where} (${name}): "nodes" and "gpusPerNode" must be numbers.`);
    const host = login === LOCAL_LOGIN ? undefined
      : hostFromText(login, localUser, fields.identityFile ? { identityFile: fields.identityFile as string } : {});
    if (login !== LOCAL_LOGIN && !host) return void out.problems.push(`${where} (${name}): "login" must be "local", a ~/.ssh/config name or user@host[:port].`);
    const spec: ClusterSpec = { name, nodes, gpusPerNode, ...(host ? { login: host } : {}), ...(e.requeue === false ? { requeue: false } : {}) };
    for (const k of [...STRINGS, 'sbatchLines', 'setupLines'] as const) {
      if (fields[k] !== undefined) (spec as unknown as Record<string, unknown>)[k] = fields[k];
    }
    const problem = clusterProblem(spec);
    if (problem) return void out.problems.push(`${where} (${name}): ${problem}`);
    seen.add(name);
    out.clusters.push(spec);
  });
  return out;
}
