// Streaming parser of the engine's JSONL event stream. Input is raw bytes in arbitrary chunks (a file
// read, an SSH channel); lines are split on 0x0A *before* UTF-8 decoding, which is safe because 0x0A
// never occurs inside a multi-byte UTF-8 sequence, so a chunk boundary inside a character is harmless.
// Never throws: every bad line is skipped and counted in `stats`.
import { decodeEvent } from './decode';
import type { EngineEvent, ParseStats, SkippedLine } from './types';

/** Default cap on one line (bytes). A start event with a full config is a few KiB. */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const NEWLINE = 0x0a;
const CR = 0x0d;

// Python's json.dumps writes bare NaN/Infinity (not JSON). Quote them when they stand as values so
// JSON.parse accepts the line; decode.ts maps the strings back to numbers.
const NON_FINITE_VALUE = /([:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g;

export class EventStreamParser {
  readonly stats: ParseStats = { lines: 0, events: 0, blank: 0, garbage: 0, invalid: 0, tooLong: 0, unknown: 0 };
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** True while discarding the rest of a line that went over the cap. */
  private skipping = false;
  /** Bytes consumed up to and including the last complete line: a safe offset to resume from. */
  private consumed = 0;
  /** Bytes of the current, incomplete line that were already dropped (over-long line). */
  private consumedPartial = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** `onSkip` hears of every non-blank line that did not become an event, so a client can report it. */
  constructor(
    private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
    private readonly onSkip?: (line: SkippedLine) => void,
  ) {}

  /** Byte offset (from where this parser started) just after the last complete line. */
  get completeOffset(): number {
    return this.consumed;
  }

  /** Feeds one chunk; returns the events of the lines it completed, in order. */
  push(chunk: Uint8Array): EngineEvent[] {
    const out: EngineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk.subarray(start, end));
      if (nl === -1) break;
      this.finishLine(out);
      start = nl + 1;
    }
    return out;
  }

  /** Flushes a final line without a trailing newline (the stream ended). */
  end(): EngineEvent[] {
    const out: EngineEvent[] = [];
    if (this.pendingBytes > 0 || this.skipping) this.finishLine(out, false);
    return out;
  }

  private take(part: Uint8Array): void {
    if (part.length === 0) return;
    if (this.skipping) {
      this.consumedPartial += part.length;
      return;
    }
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.skipping = true;
      // Reported now, not at the line's end: a line that never ends (a stream of zeros) is still seen.
      this.onSkip?.({ offset: this.consumed, bytes: this.pendingBytes + part.length, reason: 'tooLong' });
      this.consumedPartial += this.pendingBytes + part.length;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    // Copy: the caller may reuse its read buffer.
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(out: EngineEvent[], withNewline = true): void {
    const lineBytes = this.consumedPartial + this.pendingBytes + (withNewline ? 1 : 0);
    const lineStart = this.consumed;
    this.consumed += lineBytes;
    this.consumedPartial = 0;
    this.stats.lines++;
    if (this.skipping) {
      this.skipping = false;
      this.stats.tooLong++;
      return;
    }
    const bytes = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let n = bytes.length;
    if (n > 0 && bytes[n - 1] === CR) n--;
    const text = this.decoder.decode(bytes.subarray(0, n)).trim();
    if (text.length === 0) {
      this.stats.blank++;
      return;
    }
    const event = this.parseLine(text);
    if (typeof event === 'string') {
      this.onSkip?.({ offset: lineStart, bytes: lineBytes, reason: event });
      return;
    }
    this.stats.events++;
    out.push(event);
  }

  /** The event, or why the line is not one (already counted in stats). */
  private parseLine(text: string): EngineEvent | 'garbage' | 'invalid' {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      try {
        value = JSON.parse(text.replace(NON_FINITE_VALUE, '$1"$2"'));
      } catch {
        this.stats.garbage++;
        return 'garbage';
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.stats.garbage++;
      return 'garbage';
    }
    const result = decodeEvent(value as Record<string, unknown>);
    if (result.kind === 'invalid') {
      this.stats.invalid++;
      return 'invalid';
    }
    if (result.event.event === 'unknown') this.stats.unknown++;
    return result.event;
  }
}
