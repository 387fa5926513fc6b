// A throwaway "remote host" for one test file: temp home, client keys, one or more sshd on loopback,
// a known_hosts that already trusts them. Everything lives under one temp dir removed at the end.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostSpec } from '../../../src/core/runs/types';
import { keygen, startSshd } from './sshd';
import type { Sshd } from './sshd';

/** The tests log in as whoever runs them (root in CI); sshd only lets a non-root server do that. */
export const USER = userInfo().username;

export const PASSPHRASE = 'correct horse $(battery) staple';

export function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) || !existsSync(join(d, 'engine'))) d = dirname(d);
  return d;
}

/** The engine venv's Python, which has torch (the tests' "remote" is this machine). */
export function remotePython(): string {
  return process.env.SLTRAIN_TEST_PYTHON ?? join(repoRoot(), 'engine', '.venv', 'bin', 'python');
}

export function fixtureEngine(): string {
  return join(repoRoot(), 'test', 'ssh', 'fixtures', 'engine');
}

export interface World {
  dir: string;
  home: string;
  knownHosts: string;
  clientKey: string;
  clientKeyPw: string;
  servers: Sshd[];
  host(i?: number, extra?: Partial<HostSpec>): HostSpec;
  close(): Promise<void>;
}

export function knownHostsEntry(s: Sshd): string {
  const pub = readFileSync(`${s.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/);
  return `[127.0.0.1]:${s.port} ${pub[0]} ${pub[1]}\n`;
}

const FAKE_NVIDIA_SMI = `#!/bin/bash
# Stand-in for nvidia-smi: one GPU, a sample every -lms milliseconds.
case "$*" in
  *name,memory.total*) echo "NVIDIA H200, 143771" ;;
  *-lms*) while true; do echo "0, 87, 40960, 143771"; sleep 0.2; done ;;
esac
`;

/** `fakeGpu`: sessions see a fake nvidia-smi first on PATH. */
/**
 * A failed test can leave a remote job running; every such process names the world's unique temp
 * dir on its command line (run dir, engine copy), so those — and only those — are killed.
 */
function killLeftovers(dir: string): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

export async function makeWorld(servers = 1, fakeGpu = false): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'sltrain-ssh-'));
  const home = join(dir, 'home');
  execFileSync('mkdir', ['-p', join(home, '.ssh')]);
  const clientKey = join(dir, 'client_key');
  const clientKeyPw = join(dir, 'client_key_pw');
  keygen(clientKey);
  keygen(clientKeyPw, PASSPHRASE);
  let sessionPath: string | undefined;
  if (fakeGpu) {
    mkdirSync(join(dir, 'fakebin'));
    writeFileSync(join(dir, 'fakebin', 'nvidia-smi'), FAKE_NVIDIA_SMI, { mode: 0o755 });
    sessionPath = `${join(dir, 'fakebin')}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`;
  }
  const started: Sshd[] = [];
  for (let i = 0; i < servers; i++) {
    started.push(await startSshd(join(dir, `sshd${i}`), [`${clientKey}.pub`, `${clientKeyPw}.pub`], sessionPath));
  }
  const knownHosts = join(home, '.ssh', 'known_hosts');
  writeFileSync(knownHosts, started.map(knownHostsEntry).join(''));
  return {
    dir, home, knownHosts, clientKey, clientKeyPw, servers: started,
    host: (i = 0, extra = {}) => ({
      name: `test${i}`, host: '127.0.0.1', port: started[i].port, user: USER, identityFile: clientKey,
      python: remotePython(), workDir: join(dir, `work${i}`), ...extra,
    }),
    close: async () => {
      killLeftovers(dir);
      await Promise.all(started.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether any process of the process group still exists (the sshd runs as this user, on this host). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
