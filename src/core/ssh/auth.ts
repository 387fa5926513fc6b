// Authentication order like OpenSSH's: identity files, then the agent, then a password. Secrets are
// fetched lazily from the SecretStore only when a method is actually tried, and never logged.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { utils } from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, AuthenticationType } from 'ssh2';
import type { HostSpec } from '../runs/types';
import type { SecretStore } from './deps';

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
// ssh2 ends authentication when the handler answers `false`; @types/ssh2 does not list that value.
const NO_MORE_METHODS = false as unknown as AnyAuthMethod;

export interface AuthPlan {
  handler: AuthHandlerMiddleware;
  /** Why methods were skipped (missing passphrase, unreadable key): appended to an auth failure. */
  notes: string[];
}

export function passphraseKey(identityFile: string): string {
  return `passphrase:${identityFile}`;
}

export function passwordKey(host: HostSpec): string {
  return `password:${host.user}@${host.host}:${host.port}`;
}

async function keyAttempt(file: string, user: string, secrets: SecretStore, notes: string[]): Promise<AnyAuthMethod | undefined> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    notes.push(`cannot read identity file ${file}`);
    return undefined;
  }
  if (!(utils.parseKey(data) instanceof Error)) return { type: 'publickey', username: user, key: data };
  const passphrase = await secrets.get(passphraseKey(file));
  if (passphrase === undefined) {
    notes.push(`${file} is encrypted and no passphrase is stored for it`);
    return undefined;
  }
  if (utils.parseKey(data, passphrase) instanceof Error) {
    notes.push(`the stored passphrase does not decrypt ${file}`);
    return undefined;
  }
  return { type: 'publickey', username: user, key: data, passphrase };
}

export function planAuth(host: HostSpec, secrets: SecretStore, homeDir: string, agentSocket: string | undefined): AuthPlan {
  const notes: string[] = [];
  const keyFiles = host.identityFile
    ? [host.identityFile]
    : DEFAULT_KEYS.map((k) => join(homeDir, '.ssh', k)).filter((f) => existsSync(f));
  const steps: Array<(left: AuthenticationType[]) => Promise<AnyAuthMethod | undefined>> = [
    ...keyFiles.map((f) => async (left: AuthenticationType[]) =>
      left.includes('publickey') ? keyAttempt(f, host.user, secrets, notes) : undefined),
    async (left) => (agentSocket && left.includes('publickey')
      ? { type: 'agent', username: host.user, agent: agentSocket } : undefined),
    async (left) => {
      if (!left.includes('password')) return undefined;
      const password = await secrets.get(passwordKey(host));
      return password === undefined ? undefined : { type: 'password', username: host.user, password };
    },
  ];
  let next = 0;
  const handler: AuthHandlerMiddleware = (authsLeft, _partial, done) => {
    // ssh2 passes null before the first attempt: the server has not listed its methods yet.
    const left: AuthenticationType[] = authsLeft ?? ['publickey', 'password'];
    const tryNext = async (): Promise<void> => {
      while (next < steps.length) {
        const method = await steps[next++](left);
        if (method) return done(method);
      }
      done(NO_MORE_METHODS);
    };
    tryNext().catch(() => done(NO_MORE_METHODS));
  };
  return { handler, notes };
}
