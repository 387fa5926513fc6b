// A shell on the cluster's login node: this machine (`/bin/sh -c`), or an SSH host through the same
// connection layer as SSH runs (known_hosts, keys, agent, ~/.ssh/config). The Slurm backend only
// runs scripts, so both logins behave alike.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import type { ExecResult, SshSession } from '../../ssh/connection';
import { connectSsh } from '../../ssh/connection';
import type { SshDeps } from '../../ssh/deps';
import type { ClusterSpec } from '../types';

export interface LoginShell {
  readonly where: string;
  exec(script: string): Promise<ExecResult>;
  /** Hands stdout over as it comes; a returned promise pauses the reading until it settles. */
  stream(script: string, onStdout: (chunk: Buffer) => void, signal?: AbortSignal): Promise<ExecResult>;
  /** The SSH session, for uploading the engine; undefined on this machine. */
  readonly session?: SshSession;
  /** The login node's home folder (`~` in the work folder). */
  home(): Promise<string>;
  end(): void;
}

function localStream(script: string, onStdout: (chunk: Buffer) => void, signal?: AbortSignal): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const err: Buffer[] = [];
    const onAbort = (): void => void child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      const wait = onStdout(chunk) as unknown;
      if (wait instanceof Promise) {
        child.stdout.pause();
        void wait.finally(() => child.stdout.resume());
      }
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({ code: code ?? undefined, stdout: '', stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

async function localExec(script: string): Promise<ExecResult> {
  const out: Buffer[] = [];
  const r = await localStream(script, (c) => void out.push(c));
  return { ...r, stdout: Buffer.concat(out).toString('utf8') };
}

export async function openLogin(cluster: ClusterSpec, deps: SshDeps): Promise<LoginShell> {
  if (!cluster.login) {
    return {
      where: 'this machine', exec: localExec, stream: localStream, home: async () => deps.homeDir ?? homedir(), end: () => undefined,
    };
  }
  const session = await connectSsh(cluster.login, deps);
  return {
    where: session.where, session,
    exec: (s) => session.exec(s),
    stream: (s, on, signal) => session.stream(s, on, signal),
    home: async () => {
      const h = (await session.exec('printf "%s" "$HOME"')).stdout;
      if (!h.startsWith('/')) throw new Error(`Cannot find the home directory on ${session.where}.`);
      return h;
    },
    end: () => session.end(),
  };
}

export async function withLogin<T>(cluster: ClusterSpec, deps: SshDeps, fn: (s: LoginShell) => Promise<T>): Promise<T> {
  const shell = await openLogin(cluster, deps);
  try {
    return await fn(shell);
  } finally {
    shell.end();
  }
}
