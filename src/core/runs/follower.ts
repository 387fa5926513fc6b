// Follows one run's event stream through its backend: bytes → parser → events, with the byte offset
// of the last complete line, so a later follower (a reloaded window) resumes with no gap and no repeat.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileKind } from '../fileKind';
import { EventStreamParser } from '../events/parser';
import type { EngineEvent, ParseStats, SkippedLine } from '../events/types';
import { EVENTS_FILE } from './runFiles';
import type { RunBackend, RunRecord } from './types';
import { targetKind } from './targets';

export interface FollowResult {
  /** Resume offset: just after the last complete line received. */
  offset: number;
  stats: ParseStats;
}

/** The run folder holds something other than the engine's events file: nothing to follow there. */
export class UnsafeEventsFileError extends Error {}

/**
 * A local run's events.jsonl must be a regular file (or not exist yet). A link to /dev/zero would
 * stream zeros forever, a FIFO would block the reader, a link elsewhere would read another file.
 */
async function checkEventsFile(record: RunRecord): Promise<void> {
  if (!targetKind(record.target).runsHere) return;
  const path = join(record.localDir, EVENTS_FILE);
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isFile()) {
    throw new UnsafeEventsFileError(`${path} is ${fileKind(st)}, not the regular file the engine writes; refusing to read it. Remove it, or the run folder if you did not make it.`);
  }
}

/**
 * Streams events from `startOffset` (which must be a line boundary, e.g. a previous FollowResult.offset)
 * until the run ends or `signal` aborts. `onEvents` gets each batch with the offset after it; when it
 * returns a promise, reading pauses until it settles (a slow consumer bounds what is held in memory).
 * `onSkip` hears of each line that was not an event, with its absolute offset.
 */
export async function followRun(
  backend: RunBackend,
  record: RunRecord,
  startOffset: number,
  // Typed `void` so that any callback fits; a returned promise is still awaited.
  onEvents: (events: EngineEvent[], offset: number) => void,
  signal: AbortSignal,
  onSkip?: (line: SkippedLine) => void,
): Promise<FollowResult> {
  await checkEventsFile(record);
  const parser = new EventStreamParser(undefined, onSkip && ((l) => onSkip({ ...l, offset: startOffset + l.offset })));
  await backend.follow(record, startOffset, (chunk) => {
    const events = parser.push(chunk);
    return events.length > 0 ? onEvents(events, startOffset + parser.completeOffset) : undefined;
  }, signal);
  if (!signal.aborted) {
    // The run ended: a last line without a newline still counts.
    const tail = parser.end();
    if (tail.length > 0) await onEvents(tail, startOffset + parser.completeOffset);
  }
  return { offset: startOffset + parser.completeOffset, stats: parser.stats };
}
