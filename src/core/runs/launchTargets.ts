// Where a launch goes, as the editor offers it: this machine, one host from the `sltrain.hosts` setting
// or a ~/.ssh/config alias, several hosts under torchrun, or "add a host first". Pure: the extension
// reads the setting and the config file and shows the picks; this turns them into a RunTarget.
import type { ClusterSpec, HostSpec, RunTarget } from './types';

export type TargetChoice =
  | { kind: 'local' }
  | { kind: 'host'; host: HostSpec; source: 'settings' | 'ssh-config' }
  | { kind: 'several'; hosts: HostSpec[] }
  | { kind: 'cluster'; cluster: ClusterSpec }
  | { kind: 'addHost' }
  | { kind: 'addCluster' };

export interface SettingsHosts {
  hosts: HostSpec[];
  /** One line per entry that was skipped, to show the user (the setting is hand-edited JSON). */
  problems: string[];
}

function expandTilde(path: string, homeDir: string): string {
  return path === '~' ? homeDir : path.startsWith('~/') ? `${homeDir}/${path.slice(2)}` : path;
}

const OPTIONAL_STRINGS = ['user', 'identityFile', 'python', 'workDir'] as const;

/**
 * Validates `sltrain.hosts`. Port 22 and the local user are filled in as defaults; the SSH layer
 * lets ~/.ssh/config replace exactly those defaults when it connects, as `ssh NAME` would.
 */
export function hostsFromSettings(raw: unknown, localUser: string, homeDir: string): SettingsHosts {
  const out: SettingsHosts = { hosts: [], problems: [] };
  if (raw === undefined || raw === null) return out;
  if (!Array.isArray(raw)) return { hosts: [], problems: ['"sltrain.hosts" must be a list of hosts.'] };
  const seen = new Set<string>();
  raw.forEach((entry: unknown, i) => {
    const where = `sltrain.hosts[${i}]`;
    if (typeof entry !== 'object' || entry === null) return void out.problems.push(`${where} is not an object.`);
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== 'string' || !e.name.trim()) return void out.problems.push(`${where} has no "name".`);
    if (typeof e.host !== 'string' || !e.host.trim()) return void out.problems.push(`${where} (${e.name}) has no "host".`);
    const port = e.port ?? 22;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return void out.problems.push(`${where} (${e.name}): "port" must be a whole number from 1 to 65535.`);
    }
    if (seen.has(e.name)) return void out.problems.push(`${where}: a second host named "${e.name}" is ignored.`);
    const bad = OPTIONAL_STRINGS.find((k) => e[k] !== undefined && typeof e[k] !== 'string');
    if (bad) return void out.problems.push(`${where} (${e.name}): "${bad}" must be a string.`);
    seen.add(e.name);
    const str = (k: (typeof OPTIONAL_STRINGS)[number]): string | undefined => {
      const v = e[k];
      return typeof v === 'string' && v.trim() ? v.trim() : undefined;
    };
    const identityFile = str('identityFile');
    const python = str('python');
    const workDir = str('workDir');
    out.hosts.push({
      name: e.name.trim(), host: e.host.trim(), port, user: str('user') ?? localUser,
      ...(identityFile ? { identityFile: expandTilde(identityFile, homeDir) } : {}),
      ...(python ? { python } : {}),
      ...(workDir ? { workDir } : {}),
    });
  });
  return out;
}

/**
 * Concrete `Host` names in an ssh config (Includes already inlined). Patterns (`*`, `?`, `!`) are
 * defaults for other hosts, not destinations, so they are left out.
 */
export function sshConfigAliases(configText: string): string[] {
  const names: string[] = [];
  for (const line of configText.split('\n')) {
    const m = /^\s*Host(?:\s*=\s*|\s+)(.+)$/i.exec(line);
    if (!m) continue;
    const words = m[1].replace(/#.*$/, '').trim().match(/"[^"]*"|\S+/g) ?? [];
    for (const w of words.map((x) => x.replace(/^"|"$/g, ''))) {
      if (w && !/[*?!]/.test(w) && !names.includes(w)) names.push(w);
    }
  }
  return names;
}

/** A config alias as a HostSpec whose defaults (port 22, local user) ~/.ssh/config fills in on connect. */
export function aliasHost(alias: string, localUser: string): HostSpec {
  return { name: alias, host: alias, port: 22, user: localUser };
}

/**
 * The picks in order: this machine, the settings' hosts, config aliases not already in the settings
 * (by name or by host), "several hosts" when there are at least two, the Slurm clusters and "add a
 * host" (the editor offers "add a Slurm cluster" after it).
 */
export function targetChoices(settings: HostSpec[], aliases: string[], localUser: string, clusters: ClusterSpec[] = []): TargetChoice[] {
  const taken = new Set(settings.flatMap((h) => [h.name, h.host]));
  const hosts: TargetChoice[] = [
    ...settings.map((host): TargetChoice => ({ kind: 'host', host, source: 'settings' })),
    ...aliases.filter((a) => !taken.has(a))
      .map((a): TargetChoice => ({ kind: 'host', host: aliasHost(a, localUser), source: 'ssh-config' })),
  ];
  const all = hosts.flatMap((c) => (c.kind === 'host' ? [c.host] : []));
  return [{ kind: 'local' }, ...hosts, ...(all.length >= 2 ? [{ kind: 'several' as const, hosts: all }] : []),
    ...clusters.map((cluster): TargetChoice => ({ kind: 'cluster', cluster })), { kind: 'addHost' }];
}

/** Validation message for the processes-per-node box, or undefined when it is fine. */
export function nprocProblem(text: string): string | undefined {
  const t = text.trim();
  if (!/^[1-9]\d*$/.test(t)) return 'A whole number of processes per node, at least 1 (usually the GPUs per host).';
  return Number(t) > 1024 ? 'At most 1024 processes per node.' : undefined;
}

/** The target for a pick; `several` needs the hosts chosen (≥ 2, distinct) and the processes per node. */
export function targetFor(choice: TargetChoice, chosen: HostSpec[] = [], nprocText = '1'): RunTarget {
  switch (choice.kind) {
    case 'local':
      return { kind: 'local' };
    case 'host':
      return { kind: 'ssh', host: choice.host };
    case 'several': {
      const names = new Set(chosen.map((h) => h.name));
      if (names.size < 2 || names.size !== chosen.length) throw new Error('Pick at least two different hosts for torchrun.');
      const problem = nprocProblem(nprocText);
      if (problem) throw new Error(problem);
      return { kind: 'multinode', hosts: chosen, nprocPerNode: Number(nprocText.trim()) };
    }
    case 'cluster':
      return { kind: 'slurm', cluster: choice.cluster };
    case 'addHost':
    case 'addCluster':
      throw new Error(`"${choice.kind === 'addHost' ? 'Add GPU host' : 'Add Slurm cluster'}" is a step before choosing a target, not a target.`);
  }
}

export { describeTarget, hostAddress, remoteRunDirHint } from './targets';
