// Runs the engine on this machine as a detached process group that outlives the editor. A tiny bash
// wrapper records the pid and the exit code in the run directory, so any later client (a reloaded
// window, the CLI) learns the outcome without having been the parent.
import { mkdir, open, writeFile, appendFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { LaunchSpec, RunBackend, RunRecord, RunStatus } from './types';
import { systemClock, systemProcessControl, type Clock, type ProcessControl } from './system';
import {
  EVENTS_FILE, EXIT_BUSY, LOCK_FILE, LOG_FILE, PID_FILE, STOP_REQUESTED_FILE, exists, readEndStatus, readExitCode,
  readSmallFile,
} from './runFiles';
import { decideStatus } from './runModel';
import { runOwnership } from './ownership';
import { withProcesses, processesPerHost } from './processes';
import { StopRefusedError } from './runErrors';

export interface LocalBackendOptions {
  /** Run directories are created as `<runsDir>/<id>` (the run store's root). */
  runsDir: string;
  /** The engine command before its arguments, e.g. [python, '-m', 'sltrain.train']. */
  command: string[];
  env?: NodeJS.ProcessEnv;
  proc?: ProcessControl;
  clock?: Clock;
  /** Fallback poll period while following (fs.watch wakes earlier when it can). */
  pollMs?: number;
}

// `$$` is the wrapper's pid, which detached spawn made the process-group id. `trap : TERM INT` keeps
// the wrapper alive through a group SIGTERM (the engine still gets the default disposition: traps with
// a command are reset in children) so it can record the engine's exit code after its graceful stop.
// A folder whose lock a live engine holds gets neither pid nor exit_code: the wrapper checks the lock
// first (flock(1), else the holder's pid) and leaves on the engine's "busy" exit code without a trace.
const BUSY = `{ [ -f ${LOCK_FILE} ] && if command -v flock >/dev/null 2>&1; then ! flock -n ${LOCK_FILE} true; `
  + `else read -r p _ < ${LOCK_FILE} && kill -0 "$p" 2>/dev/null; fi; }`;
const WRAPPER = `if ${BUSY}; then exit ${EXIT_BUSY}; fi; echo $$ > ${PID_FILE}; trap : TERM INT; "$@"; code=$?; `
  + `[ $code -eq ${EXIT_BUSY} ] && exit ${EXIT_BUSY}; echo $code > exit_code.tmp; mv exit_code.tmp exit_code`;

const READ_CHUNK = 64 * 1024;

export class LocalBackend implements RunBackend {
  private readonly proc: ProcessControl;
  private readonly clock: Clock;
  private readonly pollMs: number;

  constructor(private readonly options: LocalBackendOptions) {
    this.proc = options.proc ?? systemProcessControl;
    this.clock = options.clock ?? systemClock;
    this.pollMs = options.pollMs ?? 100;
  }

  async launch(spec: LaunchSpec): Promise<RunRecord> {
    if (spec.target.kind !== 'local') throw new Error(`the local backend cannot run on ${spec.target.kind} targets`);
    // The run directory is the engine's output: events, checkpoints, pid and exit code in one place
    // that every client can find from the store.
    if (spec.engineArgs.some((a) => a === '--out' || a.startsWith('--out='))) {
      throw new Error(`--out is chosen by the run store (${join(this.options.runsDir, '<run id>')}); set the runs directory instead.`);
    }
    const dir = join(this.options.runsDir, spec.id);
    const args = [...spec.engineArgs, '--out', dir];
    const record: RunRecord = {
      id: spec.id, name: spec.name, target: spec.target, engineArgs: args, dir, localDir: dir,
      createdAt: this.clock.now(), status: 'running',
      ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
    };
    // Idempotent by run id: a launch repeated after a crash finds its wrapper and reports it.
    const already = await this.startedWrapper(record);
    if (already) return already;
    await this.refuseIfLocked(dir);
    await mkdir(dir, { recursive: true });
    // Created up front so followers can open it before the engine writes its first line.
    await appendFile(join(dir, EVENTS_FILE), '');
    const pid = await this.proc.spawnDetached({
      command: 'bash',
      args: ['-c', WRAPPER, 'sltrain-run', ...withProcesses(this.options.command, processesPerHost(spec.target)), ...args],
      cwd: dir,
      env: { ...process.env, ...this.options.env, PYTHONUNBUFFERED: '1' },
      logPath: join(dir, LOG_FILE),
    });
    const startTime = this.proc.identify(pid)?.startTime;
    return { ...record, pid, pgid: pid, ...(startTime !== undefined ? { startTime } : {}) };
  }

  private async startedWrapper(record: RunRecord): Promise<RunRecord | undefined> {
    const pid = Number.parseInt((await readSmallFile(join(record.dir, PID_FILE), 64)) ?? '', 10);
    if (!Number.isSafeInteger(pid)) return undefined;
    const own = runOwnership(this.proc, { ...record, pid, pgid: pid }, this.options.runsDir);
    return own.state === 'ours' ? { ...record, pid, pgid: pid, startTime: own.leader.startTime } : undefined;
  }

  /** The engine refuses a held folder too, but only after the log was opened there: refuse first. */
  private async refuseIfLocked(dir: string): Promise<void> {
    const words = ((await readSmallFile(join(dir, LOCK_FILE), 256)) ?? '').split(/\s+/);
    const holder = Number.parseInt(words[0] ?? '', 10);
    // The pid is only meaningful on the host that wrote it (a shared file system can hold other hosts' runs).
    if (Number.isSafeInteger(holder) && holder > 0 && words[1] === hostname() && this.proc.identify(holder)) {
      throw new Error(`the run folder ${dir} is in use by a running engine (pid ${holder}); wait for it, stop it, or launch a new run`);
    }
  }

  private async isRunning(record: RunRecord): Promise<boolean> {
    if (record.pgid === undefined || runOwnership(this.proc, record, this.options.runsDir).state === 'foreign') return false;
    return this.proc.groupAlive(record.pgid) && (await readExitCode(record.dir)) === undefined;
  }

  async reconcile(record: RunRecord): Promise<RunRecord> {
    if (record.status !== 'starting' || record.pgid !== undefined) return record;
    const started = await this.startedWrapper(record);
    if (started) return { ...started, status: 'running' };
    // No wrapper of this run is alive: it ended already, or the launch died before starting it.
    return { ...record, status: await this.status(record) };
  }

  async status(record: RunRecord): Promise<RunStatus> {
    const foreign = record.pgid !== undefined && runOwnership(this.proc, record, this.options.runsDir).state === 'foreign';
    return decideStatus({
      alive: await this.isRunning(record),
      launched: record.pgid !== undefined,
      foreign,
      starting: record.status === 'starting',
      exitCode: await readExitCode(record.dir),
      end: await readEndStatus(join(record.dir, EVENTS_FILE)),
      stopRequested: await exists(join(record.dir, STOP_REQUESTED_FILE)),
    });
  }

  async stop(record: RunRecord, graceMs: number): Promise<void> {
    const own = runOwnership(this.proc, record, this.options.runsDir);
    if (own.state === 'foreign') throw new StopRefusedError(`${own.reason}; nothing was signalled.`);
    // A leader that is gone leaves nothing to verify a group by: a group alive without it is not ours to kill.
    if (own.state === 'gone') return;
    const pgid = own.leader.pgid;
    await writeFile(join(record.dir, STOP_REQUESTED_FILE), `${this.clock.now()}\n`);
    this.proc.killGroup(pgid, 'SIGTERM');
    const deadline = this.clock.now() + graceMs;
    while (this.proc.groupAlive(pgid) && this.clock.now() < deadline) await this.clock.sleep(Math.min(100, graceMs));
    if (!this.proc.groupAlive(pgid)) return;
    this.proc.killGroup(pgid, 'SIGKILL');
    while (this.proc.groupAlive(pgid)) await this.clock.sleep(20);
    // The engine could not say so itself; followers and later readers still see how it ended.
    if ((await readEndStatus(join(record.dir, EVENTS_FILE))) === undefined) {
      const end = { v: 1, event: 'end', time: this.clock.now() / 1000, rank: 0, status: 'stopped', note: 'killed after grace period' };
      await appendFile(join(record.dir, EVENTS_FILE), `\n${JSON.stringify(end)}\n`);
    }
  }

  async follow(record: RunRecord, offset: number, onBytes: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
    const path = join(record.localDir, EVENTS_FILE);
    const wake = new Wakeup(record.localDir, this.pollMs, signal);
    let pos = offset;
    try {
      while (!signal.aborted) {
        // Check "finished" before reading, so bytes written just before the exit are still read.
        const finished = !(await this.isRunning(record));
        pos = await readFrom(path, pos, onBytes, signal);
        if (finished || signal.aborted) return;
        await wake.next();
      }
    } finally {
      wake.dispose();
    }
  }
}

/** Reads the file from `pos` to its current end; returns the new position. */
async function readFrom(path: string, pos: number, onBytes: (chunk: Buffer) => void | Promise<void>, signal: AbortSignal): Promise<number> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return pos;
  }
  try {
    for (;;) {
      if (signal.aborted) return pos;
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(buf, 0, READ_CHUNK, pos);
      if (bytesRead === 0) return pos;
      pos += bytesRead;
      await onBytes(buf.subarray(0, bytesRead)); // a slow consumer pauses the reading (see RunBackend.follow)
    }
  } finally {
    await handle.close();
  }
}

/** Resolves on the next change in a directory (fs.watch) or after `pollMs`, whichever is first. */
class Wakeup {
  private watcher: FSWatcher | undefined;
  private dirty = false;
  private resolve: (() => void) | undefined;

  constructor(dir: string, private readonly pollMs: number, private readonly signal: AbortSignal) {
    try {
      this.watcher = watch(dir, () => this.fire());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // Polling alone still works (e.g. inotify limits reached).
    }
    signal.addEventListener('abort', this.fire, { once: true });
  }

  private readonly fire = (): void => {
    this.dirty = true;
    this.resolve?.();
  };

  next(): Promise<void> {
    if (this.dirty || this.signal.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.resolve = undefined;
        self.dirty = false;
        resolve();
      }
      this.resolve = done;
    });
  }

  dispose(): void {
    this.watcher?.close();
    this.signal.removeEventListener('abort', this.fire);
  }
}
