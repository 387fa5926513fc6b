// The side effects the run backends need, behind small interfaces so unit tests can use fakes.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface DetachedSpawn {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr both go here (appended). */
  logPath: string;
}

export interface ProcessControl {
  /** Starts a process as leader of a new session and process group; returns its pid (= pgid). */
  spawnDetached(spec: DetachedSpawn): Promise<number>;
  /** Is any process of the group alive? */
  groupAlive(pgid: number): boolean;
  /** Signals the whole process group; a group that is already gone is not an error. */
  killGroup(pgid: number, signal: NodeJS.Signals): void;
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
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  killGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pgid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  },
};
