// Escaping of text from run folders before it reaches a terminal or the run view, and the parser's
// report of the lines it skips. Property part: random strings over every code unit class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControls, escapeLines, terminalJson } from '../../src/core/events/escape';
import { EventStreamParser } from '../../src/core/events/parser';
import type { EngineEvent, SkippedLine } from '../../src/core/events/types';
import { displayMeta, formatEventLine } from '../../src/core/runs/format';
import { prng } from './fixtures/prng';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const base = { v: 1, time: 1, rank: 0 };

test('escapeControls shows ESC, BEL, CR, LF, C1 and bidi overrides as visible escapes', () => {
  assert.equal(escapeControls('\u001b]0;title\u0007'), '\\x1b]0;title\\x07');
  assert.equal(escapeControls('a\rb\nc\td\u007f'), 'a\\x0db\\x0ac\\x09d\\x7f');
  assert.equal(escapeControls('\u009b31m \u202e \u2028'), '\\x9b31m \\u202e \\u2028');
  assert.equal(escapeControls('plain text, ünïcödé, 日本, emoji 🙂'), 'plain text, ünïcödé, 日本, emoji 🙂');
});

/** A deterministic generator, so a failure reproduces. */
function randomStrings(n: number, seed = 7): string[] {
  const next = prng(seed);
  const pools = [[0, 0x20], [0x20, 0x7f], [0x7f, 0xa0], [0xa0, 0x800], [0x2000, 0x2070], [0xd800, 0xe000], [0xe000, 0x10000]];
  return Array.from({ length: n }, () => {
    let s = '';
    for (let i = Math.floor(next() * 40); i > 0; i--) {
      const [lo, hi] = pools[Math.floor(next() * pools.length)];
      s += String.fromCharCode(lo + Math.floor(next() * (hi - lo)));
    }
    return s;
  });
}

test('escapeLines keeps the newlines of a log tail and escapes the rest', () => {
  assert.equal(escapeLines('line 1\r\x1b[2K\nline 2\u0007'), 'line 1\\x0d\\x1b[2K\nline 2\\x07');
});

test('property: no control character survives formatting, and --json still round-trips exactly', () => {
  for (const s of randomStrings(3000)) {
    const events: EngineEvent[] = [
      { ...base, event: 'warning', message: s, code: s },
      { ...base, event: 'checkpoint', step: 1, path: s },
      { ...base, event: 'start', config: {}, device: s },
      { ...base, event: 'unknown', name: s, raw: {} },
    ];
    for (const e of events) assert.doesNotMatch(formatEventLine(e), CONTROL, JSON.stringify(s));
    const json = terminalJson({ message: s });
    assert.doesNotMatch(json, CONTROL);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify({ message: s })));
    assert.doesNotMatch(escapeControls(s), CONTROL);
  }
});

test('displayMeta escapes what the run view shows and keeps the id it sends back', () => {
  const meta = displayMeta({ id: 'a\u001bb', name: 'x\r\u202eevil', status: 'failed', device: 'cuda\u0007', lastError: { message: 'm\n', code: '\u009b' } });
  assert.deepEqual(meta, { id: 'a\u001bb', name: 'x\\x0d\\u202eevil', status: 'failed', device: 'cuda\\x07', lastError: { message: 'm\\x0a', code: '\\x9b' } });
});

test('the parser reports each skipped line with its offset, size and reason; an over-long one as soon as it is', () => {
  const skipped: SkippedLine[] = [];
  const parser = new EventStreamParser(64, (l) => skipped.push(l));
  const ok = '{"v":1,"event":"end","time":1,"status":"completed"}\n';
  const long = `${'y'.repeat(100)}\n`;
  const text = `${ok}not json\n${long}{"v":1,"event":"step","time":1}\n\n${ok}`;
  const events = [...parser.push(Buffer.from(text.slice(0, 70))), ...parser.push(Buffer.from(text.slice(70))), ...parser.end()];
  assert.equal(events.length, 2);
  assert.deepEqual(skipped, [
    { offset: ok.length, bytes: 9, reason: 'garbage' },
    { offset: ok.length + 9, bytes: 100, reason: 'tooLong' }, // all 100 y's were seen when it crossed 64
    { offset: ok.length + 9 + long.length, bytes: 32, reason: 'invalid' },
  ]);
});

test('a line that never ends is reported once, while it streams, and nothing of it is kept', () => {
  const skipped: SkippedLine[] = [];
  const parser = new EventStreamParser(1024, (l) => skipped.push(l));
  const zeros = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 100; i++) assert.deepEqual(parser.push(zeros), []);
  assert.deepEqual(skipped, [{ offset: 0, bytes: zeros.length, reason: 'tooLong' }]);
  assert.equal(parser.completeOffset, 0);
});
