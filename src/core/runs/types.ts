// Run records and the backend interface every launch target implements (this machine, an SSH host,
// several SSH hosts under torchrun). The run store, the CLI and the extension only talk to RunBackend,
// so a remote run is handled exactly like a local one.

// `queued`: accepted by a batch scheduler (Slurm) and waiting for its allocation, or requeued.
export type RunStatus = 'starting' | 'queued' | 'running' | 'completed' | 'failed' | 'stopped' | 'unknown';

/** Where a run executes. `kind: 'local'` is this machine; nprocPerNode > 1 runs torchrun on each host. */
export type RunTarget =
  | { kind: 'local'; nprocPerNode?: number }
  | { kind: 'ssh'; host: HostSpec; nprocPerNode?: number }
  | { kind: 'multinode'; hosts: HostSpec[]; nprocPerNode: number }
  | { kind: 'slurm'; cluster: ClusterSpec };

/**
 * A Slurm cluster: its login node (over SSH, or this machine when `login` is absent) and the
 * allocation a run asks for. Every string reaches sbatch as one literal argument.
 */
export interface ClusterSpec {
  name: string;
  /** The login node; absent: this machine is the login node (`local`). */
  login?: HostSpec;
  partition?: string;
  account?: string;
  qos?: string;
  /** sbatch's --time (`MINUTES`, `H:MM:SS`, `D-HH[:MM[:SS]]`). */
  time?: string;
  nodes: number;
  gpusPerNode: number;
  /** Lines added to the job script as `#SBATCH …` directives (each one line, starting with `--`). */
  sbatchLines?: string[];
  /** Shell lines run on the compute node before the engine (e.g. `module load cuda`). */
  setupLines?: string[];
  /** Interpreter with torch on the compute nodes (after the set-up lines); default python3. */
  python?: string;
  /** Folder on the cluster's shared file system for engine copies and run folders (default ~/.sltrain). */
  workDir?: string;
  /** Requeue a job that reaches its time limit or is preempted, resuming from its newest checkpoint (default on). */
  requeue?: boolean;
}

/** What the scheduler says about a run's job, as shown next to its status. */
export interface SchedulerInfo {
  jobId: string;
  /** Slurm's state (PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, PREEMPTED, REQUEUED, …). */
  state?: string;
  /** Why a pending job waits (Priority, Resources, JobHeldUser, …). */
  reason?: string;
  /** The scheduler's expected start of a pending job (ISO time), when it has one. */
  expectedStart?: string;
  nodes?: string;
  exitCode?: number;
  restarts?: number;
  /** Last log lines of a failed job. */
  logTail?: string;
}

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
  /** Batch-scheduled runs: the job and what the scheduler said last. */
  scheduler?: SchedulerInfo;
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
  /** Batch schedulers: the job's state, reason, expected start, nodes, exit code and log tail. */
  scheduler?(record: RunRecord): Promise<SchedulerInfo | undefined>;
}
