// One clear message per failure, saying what to do. ssh2 tags errors with a `level`; host key
// problems are detected by our own verifier and carried as a reason.

export type SshFailure =
  | 'auth' | 'timeout' | 'refused' | 'dns' | 'network' | 'host-key-unknown' | 'host-key-changed'
  | 'host-key-revoked' | 'dropped' | 'remote';

export class SshError extends Error {
  constructor(readonly failure: SshFailure, message: string) {
    super(message);
    this.name = 'SshError';
  }
}

/** Failures a reconnect may cure; the others need the user to act first. */
export function isTransient(err: unknown): boolean {
  return err instanceof SshError && (err.failure === 'dropped' || err.failure === 'timeout'
    || err.failure === 'refused' || err.failure === 'network');
}

interface LeveledError { level?: string; code?: string; message?: string }

export function mapSshError(err: unknown, where: string, authNotes: string[]): SshError {
  if (err instanceof SshError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as LeveledError;
  const msg = e.message ?? String(err);
  switch (e.level) {
    case 'client-authentication': {
      const notes = authNotes.length ? ` (${authNotes.join('; ')})` : '';
      return new SshError('auth', `Authentication to ${where} failed${notes}. Load your key into ssh-agent, `
        + 'set the identity file for this host, or store its passphrase/password with "SLTrain: Add GPU host".');
    }
    case 'client-timeout':
      return new SshError('timeout', `Timed out connecting to ${where}. Check that the host is up and reachable.`);
    case 'client-dns':
      return new SshError('dns', `Cannot resolve the host name of ${where}. Check the spelling or your DNS/VPN.`);
    case 'client-socket':
      if (e.code === 'ECONNREFUSED') {
        return new SshError('refused', `Connection refused by ${where}. Is sshd running and is the port right?`);
      }
      return new SshError('network', `Network error talking to ${where}: ${msg}.`);
    default:
      return new SshError('dropped', `Connection to ${where} failed: ${msg}.`);
  }
}
