// The files a detached run leaves in its directory (docs/contracts.md), and how to read them without the
// process: pid/pgid from the wrapper, exit_code once it finished, the last `end` event.
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EventStreamParser } from '../events/parser';
import type { EndStatus } from '../events/types';

export const EVENTS_FILE = 'events.jsonl';
export const LOG_FILE = 'log';
export const EXIT_CODE_FILE = 'exit_code';
export const PID_FILE = 'pid';
/** The engine's flock for its lifetime (engine/sltrain/runlock.py): `PID HOST START`. */
export const LOCK_FILE = 'run.lock';
/** The engine's exit code when a live engine already holds the folder; wrappers then write nothing. */
export const EXIT_BUSY = 4;
/** Written by stop() before signalling, so a run killed before it could say so still ends `stopped`. */
export const STOP_REQUESTED_FILE = 'stop_requested';

/**
 * Opens a run file only if it is a regular file: a FIFO would block the reader forever and a link to
 * /dev/zero would never end, and the run folder is not trusted. O_NONBLOCK makes the open of a FIFO
 * return at once so the check can refuse it.
 */
async function openRegular(path: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  if ((await handle.stat()).isFile()) return handle;
  await handle.close();
  return undefined;
}

/** A small regular file's text (UTF-8), or undefined when missing, not a regular file or over `limit` bytes. */
export async function readSmallFile(path: string, limit: number): Promise<string | undefined> {
  const handle = await openRegular(path);
  if (!handle) return undefined;
  try {
    const buf = Buffer.alloc(limit + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return bytesRead > limit ? undefined : buf.subarray(0, bytesRead).toString('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** Exit code from the wrapper's file; undefined while running (or killed before it could write). */
export async function readExitCode(dir: string): Promise<number | undefined> {
  const handle = await openRegular(join(dir, EXIT_CODE_FILE));
  if (!handle) return undefined;
  try {
    const buf = Buffer.alloc(32); // "123\n": anything longer is not an exit code
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('latin1').trim();
    return /^-?\d{1,4}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Status of the last `end` event in the file's tail (the end is always among the last lines). */
export async function readEndStatus(eventsPath: string, tailBytes = 256 * 1024): Promise<EndStatus | undefined> {
  const handle = await openRegular(eventsPath);
  if (!handle) return undefined;
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(0, size - tailBytes);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    // Starting mid-line only costs one garbage line.
    const parser = new EventStreamParser();
    const events = [...parser.push(buf), ...parser.end()];
    let status: EndStatus | undefined;
    for (const e of events) if (e.event === 'end') status = e.status;
    return status;
  } finally {
    await handle.close();
  }
}

/** Status from the exit code when no end event says it: the engine's codes 0/2/3/1 (docs/contracts.md), 128+n = signal n. */
export function statusFromExit(code: number, stopRequested: boolean): EndStatus {
  if (code === 0) return 'completed';
  if (stopRequested && code >= 128) return 'stopped';
  return 'failed';
}
