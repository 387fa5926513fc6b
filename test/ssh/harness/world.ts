// A throwaway "remote host" for one test file: temp home, client keys, one or more sshd on loopback,
// a known_hosts that already trusts them. Everything lives under one temp dir removed at the end.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostSpec } from '../../../src/core/runs/types';
import { keygen, startSshd } from './sshd';
import type { Sshd } from './sshd';

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

export async function makeWorld(servers = 1): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'sltrain-ssh-'));
  const home = join(dir, 'home');
  execFileSync('mkdir', ['-p', join(home, '.ssh')]);
  const clientKey = join(dir, 'client_key');
  const clientKeyPw = join(dir, 'client_key_pw');
  keygen(clientKey);
  keygen(clientKeyPw, PASSPHRASE);
  const started: Sshd[] = [];
  for (let i = 0; i < servers; i++) started.push(await startSshd(join(dir, `sshd${i}`), [`${clientKey}.pub`, `${clientKeyPw}.pub`]));
  const knownHosts = join(home, '.ssh', 'known_hosts');
  writeFileSync(knownHosts, started.map(knownHostsEntry).join(''));
  return {
    dir, home, knownHosts, clientKey, clientKeyPw, servers: started,
    host: (i = 0, extra = {}) => ({
      name: `test${i}`, host: '127.0.0.1', port: started[i].port, user: 'root', identityFile: clientKey,
      python: remotePython(), workDir: join(dir, `work${i}`), ...extra,
    }),
    close: async () => {
      await Promise.all(started.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
