// Starts a real OpenSSH server on 127.0.0.1 for the tests (own host key, config and authorized_keys in a temp dir) and can kill
// its per-connection children to simulate a dropped link while the listener stays up.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  pid: number;
  dir: string;
  hostKeyFile: string;
  /** Number of live per-connection sshd children. */
  connections(): number;
  /** SIGKILLs every per-connection sshd child of the listener; returns how many. */
  killConnections(): number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function keygen(file: string, passphrase = '', type = 'ed25519'): void {
  if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'test', '-f', file]);
}

function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return kids;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `authorizedKeys`: public key files allowed to log in. Each server gets its own host key. */
export async function startSshd(dir: string, authorizedKeys: string[], sessionPath?: string, extra: string[] = []): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: the SSH tests need OpenSSH's server (apt-get install -y openssh-server).`);
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true }); // privilege separation dir
  const hostKeyFile = join(dir, 'host_key');
  keygen(hostKeyFile);
  writeFileSync(join(dir, 'authorized_keys'), authorizedKeys.map((f) => readFileSync(f, 'utf8')).join(''), { mode: 0o600 });
  const port = await freePort();
  const pidFile = join(dir, 'sshd.pid');
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKeyFile}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, ...(extra.length ? extra : ['PasswordAuthentication no']),
    'KbdInteractiveAuthentication no', 'StrictModes no', 'UsePAM no', `PidFile ${pidFile}`,
    'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', 'MaxStartups 100', 'LogLevel VERBOSE',
    // Lets a test put stand-in tools (a fake nvidia-smi) first on the sessions' PATH.
    ...(sessionPath ? [`SetEnv PATH=${sessionPath}`] : []), '',
  ].join('\n'));
  const proc = spawn(SSHD, ['-D', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
  await waitFor(() => existsSync(pidFile) || proc.exitCode !== null, 10_000, 'sshd to start');
  if (proc.exitCode !== null) throw new Error(`sshd failed: ${readFileSync(join(dir, 'sshd.log'), 'utf8')}`);
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    port, pid, dir, hostKeyFile,
    connections: () => childrenOf(pid).length,
    killConnections: () => {
      const kids = childrenOf(pid);
      for (const k of kids) process.kill(k, 'SIGKILL');
      return kids.length;
    },
    stop: async () => {
      try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
      await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, 5000, 'sshd to stop');
    },
  };
}
