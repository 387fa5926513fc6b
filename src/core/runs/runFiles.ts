// The files a detached run leaves in its directory (docs/contracts.md), and how to read them without the
// process: pid/pgid from the wrapper, exit_code once it finished, the last `end` event.
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EventStreamParser } from '../events/parser';
import type { EndStatus } from '../events/types';

export const EVENTS_FILE = 'events.jsonl';
export const LOG_FILE = 'log';
export const EXIT_CODE_FILE = 'exit_code';
export const PID_FILE = 'pid';
/** Written by stop() before signalling, so a run killed before it could say so still ends `stopped`. */
export const STOP_REQUESTED_FILE = 'stop_requested';

/** Exit code from the wrapper's file; undefined while running (or killed before it could write). */
export async function readExitCode(dir: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(dir, EXIT_CODE_FILE), 'utf8')).trim();
    const code = Number.parseInt(text, 10);
    return Number.isNaN(code) ? undefined : code;
  } catch {
    return undefined;
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
  let handle;
  try {
    handle = await open(eventsPath, 'r');
  } catch {
    return undefined;
  }
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
