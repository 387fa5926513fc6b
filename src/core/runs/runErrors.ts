// Failures of stop/status that the CLI and the extension report as such, not as crashes.

/** The host of a remote run cannot be reached now: nothing is known about the run, which may go on. */
export class RunUnreachableError extends Error {
  constructor(readonly host: string, readonly reason: string) {
    super(`cannot reach ${host}; the run may still be running (${reason}). Try again when the host is reachable.`);
    this.name = 'RunUnreachableError';
  }
}

/**
 * The record or the run folder names a process that cannot be verified as this run's engine (pgid 1,
 * the caller's own group, a reused pid, a process of another folder). Nothing was signalled.
 */
export class StopRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StopRefusedError';
  }
}
