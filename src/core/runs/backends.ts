// The backends the target registry (targets.ts) hands out: this machine, or the SSH / multi-node
// backends (src/core/ssh/backend.ts, loaded only when present so local launch never depends on it).
import { LocalBackend } from './localBackend';
import { withPythonPath } from './environment';
import { escapeLines } from '../events/escape';
import type { GpuSample, HostKeyConsent, Logger, SecretStore, SshDeps } from '../ssh/deps';
import type { RunBackend } from './types';

export interface BackendContext {
  /** The run store's root (`.sltrain/runs` or the configured runs directory). */
  runsDir: string;
  /** Interpreter for local runs (already checked by the environment probe). */
  python: string;
  /** The engine folder (holds sltrain/); put on PYTHONPATH so an uninstalled engine still runs. */
  engineDir: string;
  /**
   * What remote backends ask of their host (VS Code prompts, or the CLI's refusals); CLI defaults when
   * absent. `samples` receives nvidia-smi readings while a run is followed.
   */
  remote?: { secrets: SecretStore; consent: HostKeyConsent; logger: Logger; samples?: (sample: GpuSample) => void };
}

export function createLocalBackend(ctx: BackendContext): LocalBackend {
  return new LocalBackend({
    runsDir: ctx.runsDir,
    command: [ctx.python, '-m', 'sltrain.train'],
    env: { PYTHONPATH: withPythonPath(ctx.engineDir, process.env.PYTHONPATH) },
  });
}

export class RemoteUnavailableError extends Error {}

type Factory = (deps: SshDeps) => RunBackend;

/** The SSH module's factories, if that module is part of this build. */
function loadRemoteFactory(kind: 'ssh' | 'multinode'): Factory | undefined {
  let mod: unknown;
  try {
    // A plain require in try/catch: the bundler keeps going when the file does not exist yet.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../ssh/backend');
  } catch {
    return undefined;
  }
  const name = kind === 'ssh' ? 'createSshBackend' : 'createMultiNodeBackend';
  const fn = typeof mod === 'object' && mod !== null ? (mod as Record<string, unknown>)[name] : undefined;
  return typeof fn === 'function' ? (fn as Factory) : undefined;
}

/** What remote backends ask of their host: the editor's (ctx.remote) or the CLI's. */
export function remoteDeps(ctx: BackendContext): { secrets: SecretStore; consent: HostKeyConsent; logger: Logger; samples?: (sample: GpuSample) => void } {
  return ctx.remote ?? cliRemoteDeps();
}

/** The backend of one SSH host or of several hosts under torchrun (the targets registry picks it). */
export function sshBackend(kind: 'ssh' | 'multinode', ctx: BackendContext): RunBackend {
  const factory = loadRemoteFactory(kind);
  if (!factory) {
    throw new RemoteUnavailableError(
      `Remote launch is not available in this build (no ${kind === 'ssh' ? 'SSH' : 'multi-node'} backend). Launch on this machine instead.`,
    );
  }
  return factory({ ...remoteDeps(ctx), engineDir: ctx.engineDir, localRunsDir: ctx.runsDir });
}

/** Without an editor: no stored secrets (keys come from the agent or files) and no interactive consent. */
function cliRemoteDeps(): { secrets: SecretStore; consent: HostKeyConsent; logger: Logger } {
  // Messages can carry a host's log lines: escaped, so they cannot drive the terminal.
  const write = (level: string) => (m: string): void => void process.stderr.write(`${level}${escapeLines(m)}\n`);
  return {
    secrets: { get: async () => undefined },
    consent: {
      confirm: async (p) => {
        process.stderr.write(`Unknown host key for ${p.host}:${p.port} (${p.keyType} ${p.fingerprint}). ` +
          `Verify it and add it to ${p.knownHostsFile} (e.g. ssh ${p.host} once), then launch again.\n`);
        return false;
      },
    },
    logger: { info: write(''), warn: write('warning: '), error: write('error: ') },
  };
}
