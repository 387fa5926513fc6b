// Small helpers shared by the SSH and multi-node backends.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostSpec, RunStatus } from '../runs/types';
import { connectSsh } from './connection';
import type { SshSession } from './connection';
import type { SshDeps } from './deps';
import { isTransient, SshError } from './errors';
import { RunUnreachableError, StopRefusedError } from '../runs/runErrors';
import { STOP_REFUSED } from './remoteScripts';

export const EVENTS_FILE = 'events.jsonl';

/** One short-lived connection per operation: nothing to go stale between calls. */
export async function withSession<T>(host: HostSpec, deps: SshDeps, fn: (s: SshSession) => Promise<T>): Promise<T> {
  const session = await connectSsh(host, deps);
  try {
    return await fn(session);
  } finally {
    session.end();
  }
}

/** Where the local mirror of a remote run's events lives unless the run store chooses otherwise. */
export function localRunDir(deps: SshDeps, id: string): string {
  return join(deps.localRunsDir ?? join(deps.homeDir ?? homedir(), '.sltrain', 'runs'), id);
}

/**
 * A host that cannot be reached right now says nothing about the run (it keeps going there):
 * "unknown", with the reason logged. Failures the user must fix (auth, host key) still throw.
 */
export async function unknownWhenUnreachable(deps: SshDeps, read: () => Promise<RunStatus>): Promise<RunStatus> {
  try {
    return await read();
  } catch (err) {
    if (!isTransient(err)) throw err;
    deps.logger.warn((err as Error).message);
    return 'unknown';
  }
}

/** A stop script's outcome: refused (nothing signalled) or done; a host that is down says so. */
export async function stopOn(host: HostSpec, deps: SshDeps, run: (s: SshSession) => Promise<{ code: number | undefined; stderr: string }>): Promise<void> {
  let r;
  try {
    r = await withSession(host, deps, run);
  } catch (err) {
    if (isTransient(err)) throw new RunUnreachableError(host.name, (err as Error).message);
    throw err;
  }
  if (r.code === STOP_REFUSED) throw new StopRefusedError(`${host.name}: ${r.stderr.trim()}; nothing was signalled.`);
  if (r.code === undefined) throw new RunUnreachableError(host.name, `the connection to ${host.name} dropped during the stop`);
  if (r.code !== 0) throw new SshError('remote', `Stopping the run on ${host.name} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}
