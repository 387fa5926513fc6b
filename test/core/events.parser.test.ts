// The event parser on literal strings: partial lines, CRLF, garbage, unknown events, wrong types, caps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamParser } from '../../src/core/events/parser';
import type { EngineEvent } from '../../src/core/events/types';

const step = (n: number, extra = ''): string => `{"v":1,"event":"step","time":1.5,"rank":0,"step":${n},"loss":2.5,"lr":0.001${extra}}`;

function parseAll(text: string | Buffer, cap?: number): { events: EngineEvent[]; parser: EventStreamParser } {
  const parser = new EventStreamParser(cap);
  const events = [...parser.push(Buffer.isBuffer(text) ? text : Buffer.from(text)), ...parser.end()];
  return { events, parser };
}

test('parses every event type with snake_case fields mapped', () => {
  const lines = [
    '{"v":1,"event":"start","time":1,"rank":0,"config":{"steps":50},"device":"cpu","world_size":1}',
    '{"v":1,"event":"step","time":2,"rank":0,"step":1,"loss":3.2,"lr":0.001,"grad_norm":1.1,"tokens":512,"tokens_per_s":900,"step_time_s":0.5,"mem_allocated_bytes":null,"mem_peak_bytes":1024}',
    '{"v":1,"event":"eval","time":3,"rank":0,"step":1,"loss":3.1,"ppl":22.2}',
    '{"v":1,"event":"checkpoint","time":4,"rank":0,"step":1,"path":"/x/ckpt"}',
    '{"v":1,"event":"warning","time":5,"rank":0,"message":"cpu","code":"no-cuda"}',
    '{"v":1,"event":"error","time":6,"rank":0,"message":"NaN","code":"diverged"}',
    '{"v":1,"event":"end","time":7,"rank":0,"status":"failed","step":1}',
  ];
  const { events, parser } = parseAll(lines.join('\n') + '\n');
  assert.deepEqual(events.map((e) => e.event), ['start', 'step', 'eval', 'checkpoint', 'warning', 'error', 'end']);
  const s = events[1];
  assert.ok(s.event === 'step');
  assert.equal(s.tokensPerS, 900);
  assert.equal(s.memPeakBytes, 1024);
  assert.equal(s.memAllocatedBytes, undefined);
  const start = events[0];
  assert.ok(start.event === 'start' && start.worldSize === 1 && start.config.steps === 50);
  assert.equal(parser.stats.events, 7);
  assert.equal(parser.completeOffset, Buffer.byteLength(lines.join('\n') + '\n'));
});

test('CRLF line endings and blank lines', () => {
  const { events, parser } = parseAll(`${step(1)}\r\n\r\n${step(2)}\r\n`);
  assert.deepEqual(events.map((e) => (e.event === 'step' ? e.step : -1)), [1, 2]);
  assert.equal(parser.stats.blank, 1);
});

test('a line split inside a multi-byte UTF-8 character', () => {
  const line = Buffer.from(`{"v":1,"event":"warning","time":1,"rank":0,"message":"größe ✓ 🚀"}\n`);
  const rocket = line.indexOf(Buffer.from('🚀'));
  for (const cut of [rocket + 1, rocket + 2, rocket + 3, line.indexOf(Buffer.from('ö')) + 1]) {
    const parser = new EventStreamParser();
    const events = [...parser.push(line.subarray(0, cut)), ...parser.push(line.subarray(cut))];
    assert.equal(events.length, 1);
    assert.ok(events[0].event === 'warning' && events[0].message === 'größe ✓ 🚀');
  }
});

test('garbage, non-objects and wrong types are skipped and counted', () => {
  const text = [
    'Traceback (most recent call last):',
    '[1,2,3]',
    '"just a string"',
    '{"v":1,"event":"step","time":1,"rank":0,"step":"7","loss":1}',
    '{"v":1,"event":"step","time":1,"rank":0,"step":-1,"loss":1}',
    '{"v":1,"event":"end","time":1,"rank":0,"status":"exploded"}',
    '{"event":"step","step":1,"loss":1}',
    '{"v":1,"event":"step","time":1,"rank":0,"step":3,"loss":1,"lr":"high"}',
    step(4),
  ].join('\n');
  const { events, parser } = parseAll(text);
  assert.equal(events.length, 1);
  assert.equal(parser.stats.garbage, 3);
  assert.equal(parser.stats.invalid, 5);
  assert.equal(parser.stats.lines, 9);
});

test('unknown event types are kept, future fields ignored', () => {
  const { events, parser } = parseAll(`{"v":2,"event":"profile","time":1,"rank":0,"flops":3}\n${step(1, ',"future":{"a":1}')}\n`);
  assert.equal(events[0].event, 'unknown');
  assert.ok(events[0].event === 'unknown' && events[0].name === 'profile' && events[0].raw.flops === 3);
  assert.equal(events[1].event, 'step');
  assert.equal(parser.stats.unknown, 1);
});

test('NaN loss: null from the engine, bare NaN/Infinity from other writers', () => {
  const { events } = parseAll([
    '{"v":1,"event":"step","time":1,"rank":0,"step":1,"loss":null}',
    '{"v":1,"event":"step","time":1,"rank":0,"step":2,"loss":NaN,"grad_norm":Infinity}',
    '{"v":1,"event":"step","time":1,"rank":0,"step":3,"loss":-Infinity}',
  ].join('\n'));
  assert.equal(events.length, 3);
  assert.ok(events[0].event === 'step' && Number.isNaN(events[0].loss));
  assert.ok(events[1].event === 'step' && Number.isNaN(events[1].loss) && events[1].gradNorm === Infinity);
  assert.ok(events[2].event === 'step' && events[2].loss === -Infinity);
});

test('over-long lines are skipped and counted, even across chunks; offsets stay exact', () => {
  const long = `{"v":1,"event":"warning","time":1,"rank":0,"message":"${'x'.repeat(5000)}"}`;
  const text = Buffer.from(`${step(1)}\n${long}\n${step(2)}\n`);
  const parser = new EventStreamParser(1000);
  const events: EngineEvent[] = [];
  for (let i = 0; i < text.length; i += 333) events.push(...parser.push(text.subarray(i, i + 333)));
  assert.deepEqual(events.map((e) => e.event), ['step', 'step']);
  assert.equal(parser.stats.tooLong, 1);
  assert.equal(parser.completeOffset, text.length);
});

test('an unterminated last line is held until end()', () => {
  const parser = new EventStreamParser();
  assert.equal(parser.push(Buffer.from(step(1))).length, 0);
  assert.equal(parser.completeOffset, 0);
  assert.equal(parser.end().length, 1);
});

test('tracker events: name required, url/path/command strings when present', () => {
  const { events, parser } = parseAll([
    '{"v":1,"event":"tracker","time":1,"rank":0,"name":"mlflow","path":"/r/mlruns","command":"mlflow ui --backend-store-uri file:///r/mlruns"}',
    '{"v":1,"event":"tracker","time":1,"rank":0,"name":"wandb","url":"https://wandb.ai/x","path":null}',
    '{"v":1,"event":"tracker","time":1,"rank":0,"path":"/no/name"}',
    '{"v":1,"event":"tracker","time":1,"rank":0,"name":"tensorboard","path":7}',
  ].join('\n') + '\n');
  assert.deepEqual(events, [
    { v: 1, time: 1, rank: 0, event: 'tracker', name: 'mlflow', path: '/r/mlruns', command: 'mlflow ui --backend-store-uri file:///r/mlruns' },
    { v: 1, time: 1, rank: 0, event: 'tracker', name: 'wandb', url: 'https://wandb.ai/x' },
  ]);
  assert.equal(parser.stats.invalid, 2);
});
