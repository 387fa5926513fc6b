// Runs the engine on this machine as a detached process group that outlives the editor. A tiny bash
// wrapper records the pid and the exit code in the run directory, so any later client (a reloaded
// window, the CLI) learns the outcome without having been the parent.
import { mkdir, open, writeFile, appendFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { LaunchSpec, RunBackend, RunRecord, RunStatus } from './types';
import { systemClock, systemProcessControl, type Clock, type ProcessControl } from './system';
import {
  EVENTS_FILE, LOG_FILE, STOP_REQUESTED_FILE, exists, readEndStatus, readExitCode, statusFromExit,
} from './runFiles';

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
const WRAPPER = 'echo $$ > pid; trap : TERM INT; "$@"; code=$?; echo $code > exit_code.tmp; mv exit_code.tmp exit_code';

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
    await mkdir(dir, { recursive: true });
    const args = [...spec.engineArgs, '--out', dir];
    // Created up front so followers can open it before the engine writes its first line.
    await appendFile(join(dir, EVENTS_FILE), '');
    const pid = await this.proc.spawnDetached({
      command: 'bash',
      args: ['-c', WRAPPER, 'sltrain-run', ...this.options.command, ...args],
      cwd: dir,
      env: { ...process.env, ...this.options.env, PYTHONUNBUFFERED: '1' },
      logPath: join(dir, LOG_FILE),
    });
    return {
      id: spec.id, name: spec.name, target: spec.target, engineArgs: args, dir, localDir: dir,
      createdAt: this.clock.now(), pid, pgid: pid, status: 'running',
      ...(spec.predictedPeakBytes !== undefined ? { predictedPeakBytes: spec.predictedPeakBytes } : {}),
    };
  }

  private async isRunning(record: RunRecord): Promise<boolean> {
    return record.pgid !== undefined && this.proc.groupAlive(record.pgid) && (await readExitCode(record.dir)) === undefined;
  }

  async status(record: RunRecord): Promise<RunStatus> {
    if (await this.isRunning(record)) return 'running';
    const code = await readExitCode(record.dir);
    const stopRequested = await exists(join(record.dir, STOP_REQUESTED_FILE));
    const end = await readEndStatus(join(record.dir, EVENTS_FILE));
    if (end) return end;
    if (code !== undefined) return statusFromExit(code, stopRequested);
    if (record.pgid === undefined) return 'unknown';
    // Dead without an exit code: SIGKILLed (by stop or by the OS) or the machine rebooted.
    return stopRequested ? 'stopped' : 'failed';
  }

  async stop(record: RunRecord, graceMs: number): Promise<void> {
    const pgid = record.pgid;
    if (pgid === undefined) throw new Error(`run ${record.id} has no process group recorded`);
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
async function readFrom(path: string, pos: number, onBytes: (chunk: Buffer) => void, signal: AbortSignal): Promise<number> {
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
      onBytes(buf.subarray(0, bytesRead));
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
