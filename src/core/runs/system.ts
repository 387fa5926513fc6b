// The side effects the run backends need, behind small interfaces so unit tests can use fakes.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';

export interface DetachedSpawn {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr both go here (appended). */
  logPath: string;
}

/** What this host says about a live process, to tell a run's own leader from a reused or foreign pid. */
export interface ProcessIdentity {
  /** Opaque start time (clock ticks since boot from /proc, else `ps -o lstart`): equal means same process. */
  startTime: string;
  pgid: number;
  /** Its working directory when readable (Linux /proc); undefined elsewhere. */
  cwd?: string;
  /** Its command line, arguments joined by spaces. */
  cmdline: string;
}

export interface ProcessControl {
  /** Starts a process as leader of a new session and process group; returns its pid (= pgid). */
  spawnDetached(spec: DetachedSpawn): Promise<number>;
  /** Is any process of the group alive? */
  groupAlive(pgid: number): boolean;
  /** Signals the whole process group; a group that is already gone is not an error. */
  killGroup(pgid: number, signal: NodeJS.Signals): void;
  /** The live process `pid`, or undefined when there is none. */
  identify(pid: number): ProcessIdentity | undefined;
  /** The caller's own process group (never to be signalled). */
  ownGroup(): number;
}

/** pgid 0 and -1 mean "my group" and "everyone" to kill(2); 1 is init. None is ever a run's group. */
export function signallableGroup(pgid: unknown): pgid is number {
  return typeof pgid === 'number' && Number.isSafeInteger(pgid) && pgid > 1;
}

function fromProc(pid: number): ProcessIdentity | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in parentheses may hold spaces and ')': fields are counted after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let cwd: string | undefined;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    cwd = undefined; // another user's process
  }
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // gone meanwhile: the empty command line matches no run
  }
  return { startTime: f[19], pgid: Number(f[2]), ...(cwd !== undefined ? { cwd } : {}), cmdline };
}

function fromPs(pid: number): ProcessIdentity | undefined {
  try {
    const head = execFileSync('ps', ['-o', 'pgid=,lstart=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    const cmdline = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    const m = /^(\d+)\s+(.+)$/.exec(head);
    return m ? { pgid: Number(m[1]), startTime: m[2].replace(/\s+/g, ' '), cmdline } : undefined;
  } catch {
    return undefined; // ps exits 1 when there is no such process
  }
}

function procAvailable(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export const systemProcessControl: ProcessControl = {
  spawnDetached(spec: DetachedSpawn): Promise<number> {
    const fd = openSync(spec.logPath, 'a');
    try {
      // detached: setsid(), so the run has its own session/process group and outlives the editor.
      const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', fd, fd] });
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => {
          child.unref();
          if (child.pid === undefined) reject(new Error(`could not start ${spec.command}`));
          else resolve(child.pid);
        });
      });
    } finally {
      closeSync(fd);
    }
  },
  groupAlive(pgid: number): boolean {
    if (!signallableGroup(pgid)) return false;
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  killGroup(pgid: number, signal: NodeJS.Signals): void {
    // The last line of defence: kill(-1) would hit every process of the user, kill(0) the caller.
    if (!signallableGroup(pgid) || pgid === this.ownGroup()) throw new Error(`refusing to signal process group ${pgid}`);
    try {
      process.kill(-pgid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  },
  identify(pid: number): ProcessIdentity | undefined {
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return procAvailable() ? fromProc(pid) : fromPs(pid);
  },
  ownGroup(): number {
    const me = this.identify(process.pid);
    if (!me) throw new Error('cannot read this process\'s own process group');
    return me.pgid;
  },
};
