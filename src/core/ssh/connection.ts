// One SSH connection with the few operations the backends need. Every stream consumes both stdout and
// stderr (an unread channel stalls), and every error ends up as an SshError with a user message.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Client } from 'ssh2';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import type { HostSpec } from '../runs/types';
import { planAuth } from './auth';
import type { SshDeps } from './deps';
import { SshError, mapSshError } from './errors';
import { createHostKeyCheck } from './hostKeys';
import { effectiveHost, resolveHost } from './sshConfig';

export interface ExecResult {
  /** undefined: the channel closed without exit status (the protocol makes it optional). */
  code: number | undefined;
  stdout: string;
  stderr: string;
}

export interface SshSession {
  readonly where: string;
  exec(script: string): Promise<ExecResult>;
  /**
   * Runs `script`, handing stdout bytes over as they come; resolves with the exit code on close. When
   * `onStdout` returns a promise the channel is paused until it settles, so the host stops sending
   * once the SSH window is full (typed `void` so that any callback fits).
   */
  stream(script: string, onStdout: (chunk: Buffer) => void, signal?: AbortSignal): Promise<ExecResult>;
  sftp(): Promise<SFTPWrapper>;
  /** A TCP stream to `toHost:toPort` opened from the remote side (for ProxyJump). */
  forward(toHost: string, toPort: number): Promise<Duplex>;
  /** Resolves once the connection is gone (dropped or ended). */
  readonly closed: Promise<void>;
  end(): void;
}

/** $SSH_AUTH_SOCK; on Windows the OpenSSH agent's pipe (ssh2's Pageant helper breaks when bundled). */
function defaultAgent(): string | undefined {
  return process.env.SSH_AUTH_SOCK ?? (process.platform === 'win32' ? '\\\\.\\pipe\\openssh-ssh-agent' : undefined);
}

export function describeHost(host: HostSpec): string {
  return `${host.user}@${host.host}:${host.port}`;
}

/**
 * Connects the way `ssh` would: ~/.ssh/config applied, through a ProxyJump host when one is set
 * (a direct-tcpip channel on the jump connection carries the inner SSH session).
 */
export async function connectSsh(spec: HostSpec, deps: SshDeps): Promise<SshSession> {
  const home = deps.homeDir ?? homedir();
  const host = effectiveHost(spec, home);
  const jump = host.proxyJump?.split(',')[0].trim();
  if (!jump || jump === 'none') return openSession(host, deps, home);
  const jumpSession = await connectSsh(resolveHost({ name: jump }, home), deps);
  try {
    const sock = await jumpSession.forward(host.host, host.port);
    const inner = await openSession(host, deps, home, sock);
    void inner.closed.then(() => jumpSession.end());
    return inner;
  } catch (err) {
    jumpSession.end();
    throw err;
  }
}

function openSession(host: HostSpec, deps: SshDeps, home: string, sock?: Duplex): Promise<SshSession> {
  const where = describeHost(host);
  const files = deps.knownHostsFiles ?? [join(home, '.ssh', 'known_hosts')];
  const check = createHostKeyCheck(host, files, deps.consent, deps.logger);
  const auth = planAuth(host, deps.secrets, home, deps.agentSocket ?? defaultAgent());
  const client = new Client();
  let markClosed = (): void => undefined;
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  client.on('close', () => markClosed());

  const openChannel = (script: string): Promise<ClientChannel> => new Promise((resolve, reject) => {
    try {
      // The script goes to /bin/sh on stdin, so the login shell (zsh, fish, tcsh…) only ever parses
      // `/bin/sh -s`. The brace group makes sh read the whole script before running any of it, and
      // stdin is at EOF by then, so no command can swallow the rest of the script.
      client.exec('/bin/sh -s', (err, ch) => {
        if (err) return reject(mapSshError(err, where, []));
        ch.end(`{\n${script}\n}\n`);
        resolve(ch);
      });
    } catch {
      reject(new SshError('dropped', `Connection to ${where} dropped.`)); // ssh2 throws "Not connected"
    }
  });

  const stream = async (script: string, onStdout: (chunk: Buffer) => void, signal?: AbortSignal): Promise<ExecResult> => {
    const ch = await openChannel(script);
    return new Promise((resolve, reject) => {
      const err: Buffer[] = [];
      let code: number | undefined;
      const onAbort = (): void => { ch.close(); };
      signal?.addEventListener('abort', onAbort, { once: true });
      ch.on('data', (chunk: Buffer) => {
        const wait = onStdout(chunk) as unknown;
        if (wait instanceof Promise) {
          ch.pause();
          wait.then(() => ch.resume(), () => ch.resume());
        }
      });
      ch.stderr.on('data', (b: Buffer) => err.push(b));
      ch.on('exit', (c: number | null) => { code = c ?? undefined; });
      const dropped = (): void => reject(new SshError('dropped', `Connection to ${where} dropped.`));
      client.once('close', dropped);
      ch.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        client.removeListener('close', dropped);
        resolve({ code, stdout: '', stderr: Buffer.concat(err).toString('utf8') });
      });
    });
  };

  const session: SshSession = {
    where,
    closed,
    stream,
    exec: async (script) => {
      const out: Buffer[] = [];
      const r = await stream(script, (b) => out.push(b));
      return { ...r, stdout: Buffer.concat(out).toString('utf8') };
    },
    sftp: () => new Promise((resolve, reject) => {
      client.sftp((err, s) => (err ? reject(mapSshError(err, where, [])) : resolve(s)));
    }),
    forward: (toHost, toPort) => new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, toHost, toPort, (err, ch) => (err
        ? reject(new SshError('network', `${where} cannot reach ${toHost}:${toPort} as a jump host: ${err.message}`))
        : resolve(ch)));
    }),
    end: () => client.end(),
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    client.on('ready', () => { settled = true; resolve(session); });
    client.on('error', (err: Error) => {
      if (settled) { deps.logger.warn(`ssh ${where}: ${err.message}`); return; }
      settled = true;
      reject(check.refusal() ?? mapSshError(err, where, auth.notes));
    });
    client.on('close', () => {
      if (settled) return;
      settled = true; // closed during the handshake without an error event
      reject(check.refusal() ?? new SshError('dropped', `Connection to ${where} closed during the handshake.`));
    });
    client.connect({
      host: host.host,
      port: host.port,
      username: host.user,
      authHandler: auth.handler,
      hostVerifier: check.verifier,
      keepaliveInterval: (deps.keepaliveSeconds ?? 10) * 1000,
      keepaliveCountMax: 3,
      readyTimeout: 20_000,
      ...(sock ? { sock } : {}),
    });
  });
}
