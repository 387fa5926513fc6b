// Follows one run's event stream through its backend: bytes → parser → events, with the byte offset
// of the last complete line, so a later follower (a reloaded window) resumes with no gap and no repeat.
import { EventStreamParser } from '../events/parser';
import type { EngineEvent, ParseStats } from '../events/types';
import type { RunBackend, RunRecord } from './types';

export interface FollowResult {
  /** Resume offset: just after the last complete line received. */
  offset: number;
  stats: ParseStats;
}

/**
 * Streams events from `startOffset` (which must be a line boundary, e.g. a previous FollowResult.offset)
 * until the run ends or `signal` aborts. `onEvents` gets each batch with the offset after it.
 */
export async function followRun(
  backend: RunBackend,
  record: RunRecord,
  startOffset: number,
  onEvents: (events: EngineEvent[], offset: number) => void,
  signal: AbortSignal,
): Promise<FollowResult> {
  const parser = new EventStreamParser();
  await backend.follow(record, startOffset, (chunk) => {
    const events = parser.push(chunk);
    if (events.length > 0) onEvents(events, startOffset + parser.completeOffset);
  }, signal);
  if (!signal.aborted) {
    // The run ended: a last line without a newline still counts.
    const tail = parser.end();
    if (tail.length > 0) onEvents(tail, startOffset + parser.completeOffset);
  }
  return { offset: startOffset + parser.completeOffset, stats: parser.stats };
}
