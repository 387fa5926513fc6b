// Run records and the backend interface every launch target implements (this machine, an SSH host,
// several SSH hosts under torchrun). The run store, the CLI and the extension only talk to RunBackend,
// so a remote run is handled exactly like a local one.

export type RunStatus = 'starting' | 'running' | 'completed' | 'failed' | 'stopped' | 'unknown';

/** Where a run executes. `kind: 'local'` is this machine; nprocPerNode > 1 runs torchrun on each host. */
export type RunTarget =
  | { kind: 'local'; nprocPerNode?: number }
  | { kind: 'ssh'; host: HostSpec; nprocPerNode?: number }
  | { kind: 'multinode'; hosts: HostSpec[]; nprocPerNode: number };

/** One SSH host, as resolved from settings / ~/.ssh/config / `user@host:port`. Never holds a secret. */
export interface HostSpec {
  name: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  /** Python interpreter on the host (default: the engine venv the product creates there, else python3). */
  python?: string;
  /** Directory on the host for engine copies and run directories (default ~/.sltrain). */
  workDir?: string;
  proxyJump?: string;
}

/** What the user asked to run. `engineArgs` are `python -m sltrain.train` flags, passed verbatim. */
export interface LaunchSpec {
  id: string;
  name: string;
  target: RunTarget;
  engineArgs: string[];
  /** Planner prediction shown as the reference line in the run view (bytes), when known. */
  predictedPeakBytes?: number;
}

/** What the run store persists per run (run.json in the local run directory). */
export interface RunRecord {
  id: string;
  name: string;
  target: RunTarget;
  engineArgs: string[];
  /** Run directory on the machine that executes it (rank 0's host for multi-node). */
  dir: string;
  /** Local mirror of events.jsonl for remote runs (same as dir/events.jsonl for local ones). */
  localDir: string;
  createdAt: number;
  pid?: number;
  pgid?: number;
  /** The leader's start time on its host, recorded at launch: stop signals only that very process. */
  startTime?: string;
  status: RunStatus;
  predictedPeakBytes?: number;
}

/** A launch target. Every method is safe to call again after a crash or a dropped connection. */
export interface RunBackend {
  launch(spec: LaunchSpec): Promise<RunRecord>;
  /**
   * Streams events.jsonl bytes starting at `offset` (bytes already received) until the run ends or
   * `signal` aborts. Reconnects on its own where the transport can drop; never repeats or skips a byte.
   * When `onBytes` returns a promise, no more bytes are delivered until it settles (back-pressure;
   * typed `void` so that any callback fits).
   */
  follow(record: RunRecord, offset: number, onBytes: (chunk: Buffer) => void, signal: AbortSignal): Promise<void>;
  /** Alive → running; exit_code file → completed/failed/stopped from the last `end` event or the code. */
  status(record: RunRecord): Promise<RunStatus>;
  /**
   * SIGTERM to the process group (every node), SIGKILL after `graceMs`, once the group's leader is
   * verified on its host as this run's (StopRefusedError otherwise; RunUnreachableError: host down).
   */
  stop(record: RunRecord, graceMs: number): Promise<void>;
  /**
   * Completes a record saved before its launch returned (status "starting", maybe without dir or
   * pid): from what the host has, the started run's pid, dir and status; the record as it was when
   * the host cannot tell yet. Launches are idempotent by run id, so this never starts anything.
   */
  reconcile?(record: RunRecord): Promise<RunRecord>;
}
