// Property tests: any chunking of a valid stream yields the same events; random bytes never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamParser } from '../../src/core/events/parser';
import type { EngineEvent } from '../../src/core/events/types';
import { prng } from './fixtures/prng';


function validStream(n: number): Buffer {
  const lines: string[] = ['{"v":1,"event":"start","time":1,"rank":0,"config":{"steps":1000,"name":"ñ✓🚀"}}'];
  for (let i = 1; i <= n; i++) {
    lines.push(JSON.stringify({ v: 1, event: 'step', time: 1 + i, rank: 0, step: i, loss: 10 / i, lr: 1e-3, tokens_per_s: 1234.5, note: 'é日本🚀'.repeat(i % 4) }));
    if (i % 10 === 0) lines.push(JSON.stringify({ v: 1, event: 'eval', time: 1 + i, rank: 0, step: i, loss: 9 / i }));
  }
  lines.push('{"v":1,"event":"end","time":999,"rank":0,"status":"completed","step":100}');
  return Buffer.from(lines.join(Math.random() < 0.5 ? '\n' : '\r\n') + '\n');
}

function chunked(buf: Buffer, random: () => number): { events: EngineEvent[]; parser: EventStreamParser } {
  const parser = new EventStreamParser();
  const events: EngineEvent[] = [];
  let i = 0;
  while (i < buf.length) {
    // Mostly tiny chunks (to split characters and lines), sometimes large ones.
    const size = random() < 0.8 ? 1 + Math.floor(random() * 7) : 1 + Math.floor(random() * 4096);
    events.push(...parser.push(buf.subarray(i, i + size)));
    i += size;
  }
  events.push(...parser.end());
  return { events, parser };
}

test('random chunkings of a valid stream give identical events', () => {
  const stream = validStream(200);
  const reference = chunked(stream, () => 0.99).events;
  assert.equal(reference.length, 1 + 200 + 20 + 1);
  for (let seed = 1; seed <= 200; seed++) {
    const { events, parser } = chunked(stream, prng(seed));
    assert.deepEqual(events, reference, `seed ${seed}`);
    assert.equal(parser.stats.garbage + parser.stats.invalid + parser.stats.tooLong, 0);
    assert.equal(parser.completeOffset, stream.length);
  }
});

test('random garbage never throws and every line is accounted for', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const random = prng(seed);
    const bytes = Buffer.alloc(2000 + Math.floor(random() * 4000));
    for (let i = 0; i < bytes.length; i++) {
      const r = random();
      // Bias toward JSON-ish bytes and newlines so many lines get past JSON.parse's first character.
      bytes[i] = r < 0.05 ? 0x0a : r < 0.3 ? '{}[]":,0123456789.-e'.charCodeAt(Math.floor(random() * 20)) : Math.floor(random() * 256);
    }
    const { parser } = chunked(bytes, random);
    const s = parser.stats;
    assert.equal(s.lines, s.events + s.blank + s.garbage + s.invalid + s.tooLong, `seed ${seed}`);
  }
});

test('valid events interleaved with garbage lines: counts match what was injected', () => {
  const random = prng(7);
  const garbage = ['not json', '{"v":1', '{"v":1,"event":"step","time":1,"rank":0,"step":"x","loss":1}', '\u0000\u0001\u0002', '12'];
  const kinds = { garbage: 0, invalid: 0 };
  const lines: string[] = [];
  let valid = 0;
  for (let i = 0; i < 500; i++) {
    if (random() < 0.3) {
      const g = Math.floor(random() * garbage.length);
      lines.push(garbage[g]);
      if (g === 2) kinds.invalid++;
      else kinds.garbage++;
    } else {
      lines.push(JSON.stringify({ v: 1, event: 'step', time: i, rank: 0, step: i, loss: 1 }));
      valid++;
    }
  }
  const { events, parser } = chunked(Buffer.from(lines.join('\n') + '\n'), random);
  assert.equal(events.length, valid);
  assert.equal(parser.stats.garbage, kinds.garbage);
  assert.equal(parser.stats.invalid, kinds.invalid);
});
