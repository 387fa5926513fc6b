// Resolves what the user typed (a settings entry, `user@host[:port]`, or a ~/.ssh/config alias) into a
// HostSpec, the way `ssh` would. `Match exec` is never executed: it would run arbitrary local commands.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'ssh-config';
import type { HostSpec } from '../runs/types';

const MAX_INCLUDE_DEPTH = 16; // OpenSSH's READCONF_MAX_DEPTH

function expandTilde(path: string, homeDir: string): string {
  return path === '~' ? homeDir : path.startsWith('~/') ? join(homeDir, path.slice(2)) : path;
}

/** Wildcards only in the last path component (the common `Include config.d/*` case). */
function globFiles(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = pattern.slice(dir.length + 1);
  if (!/[*?]/.test(base)) return existsSync(pattern) ? [pattern] : [];
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
}

/** Inlines `Include` lines (ssh-config parses them but does not follow them); relative to ~/.ssh. */
export function expandIncludes(text: string, homeDir: string, depth = 0): string {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error('~/.ssh/config: Include nested too deeply.');
  return text.split('\n').map((line) => {
    const m = /^\s*Include\s+(.+)$/i.exec(line);
    if (!m) return line;
    const parts = m[1].trim().split(/\s+/);
    return parts.flatMap((p) => {
      const path = expandTilde(p.replace(/^"|"$/g, ''), homeDir);
      return globFiles(isAbsolute(path) ? path : join(homeDir, '.ssh', path));
    }).map((f) => expandIncludes(readFileSync(f, 'utf8'), homeDir, depth + 1)).join('\n');
  }).join('\n');
}

export interface HostInput {
  /** Display name or config alias; also `user@host[:port]`. */
  name: string;
  host?: string;
  port?: number;
  user?: string;
  identityFile?: string;
  python?: string;
  workDir?: string;
}

/** Splits `user@host[:port]` and `user@[v6addr]:port`. */
export function parseDestination(dest: string): { user?: string; host: string; port?: number } {
  const at = dest.lastIndexOf('@');
  const user = at >= 0 ? dest.slice(0, at) : undefined;
  const rest = at >= 0 ? dest.slice(at + 1) : dest;
  // A bare IPv6 address has several colons and no port; a port needs the [addr]:port form.
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest)
    ?? /^([0-9a-fA-F:.]*:[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)()$/.exec(rest);
  if (!m) throw new Error(`Not a host: "${dest}". Use a ~/.ssh/config alias or user@host[:port].`);
  return { user: user || undefined, host: m[1], port: m[2] ? Number(m[2]) : undefined };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Explicit fields win over ~/.ssh/config, which wins over defaults (port 22, the local user). */
export function resolveHost(input: HostInput, homeDir: string): HostSpec {
  const dest = parseDestination(input.host ?? input.name);
  const configPath = join(homeDir, '.ssh', 'config');
  let computed: Record<string, string | string[]> = {};
  if (existsSync(configPath)) {
    const config = parse(expandIncludes(readFileSync(configPath, 'utf8'), homeDir));
    computed = config.compute(dest.host, { matchExec: false });
  }
  const port = input.port ?? dest.port ?? (first(computed.Port) ? Number(first(computed.Port)) : 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`Invalid SSH port for ${input.name}.`);
  const identity = input.identityFile ?? first(computed.IdentityFile);
  const proxyJump = first(computed.ProxyJump);
  return {
    name: input.name,
    host: first(computed.HostName)?.replace(/%h/g, dest.host) ?? dest.host,
    port,
    user: input.user ?? dest.user ?? first(computed.User) ?? userInfo().username,
    ...(identity ? { identityFile: expandTilde(identity, homeDir) } : {}),
    ...(input.python ? { python: input.python } : {}),
    ...(input.workDir ? { workDir: input.workDir } : {}),
    ...(proxyJump ? { proxyJump } : {}),
  };
}

/**
 * Applies ~/.ssh/config to a HostSpec built elsewhere (settings, `--host`). Its port 22 and local user
 * name are defaults filled in by the caller, so config values replace them, as with `ssh NAME`.
 */
export function effectiveHost(spec: HostSpec, homeDir: string): HostSpec {
  const fromConfig = resolveHost({ name: spec.host }, homeDir);
  const local = userInfo().username;
  return {
    ...spec,
    host: fromConfig.host,
    port: spec.port === 22 ? fromConfig.port : spec.port,
    user: spec.user === local || spec.user === '' ? fromConfig.user : spec.user,
    ...(spec.identityFile ?? fromConfig.identityFile ? { identityFile: spec.identityFile ?? fromConfig.identityFile } : {}),
    ...(spec.proxyJump ?? fromConfig.proxyJump ? { proxyJump: spec.proxyJump ?? fromConfig.proxyJump } : {}),
  };
}
