// A consumer that stops taking bytes stops the SSH stream: the channel is paused, the SSH window
// fills, and the host's tail waits, so a slow `sltrain attach` over SSH holds a bounded amount.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createSshBackend } from '../../src/core/ssh/backend';
import type { RunBackend } from '../../src/core/runs/types';
import { testDeps } from './harness/fakes';
import { fixtureEngine, makeWorld } from './harness/world';
import type { World } from './harness/world';

let w: World;
let backend: RunBackend;
before(async () => {
  w = await makeWorld(1, true);
  backend = createSshBackend(testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() }));
});
after(async () => { await w.close(); });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a paused consumer gets no more bytes until it resumes, then every byte exactly once', async () => {
  const rec = await backend.launch({ id: 'bp', name: 'bp', target: { kind: 'ssh', host: w.host() }, engineArgs: ['--steps', '2', '--sleep', '0.01'] });
  for (let i = 0; (await backend.status(rec)) === 'running'; i++) {
    assert.ok(i < 600, 'the fixture run did not finish in 60 s');
    await sleep(100);
  }
  // What a long run leaves behind: far more than the SSH window (2 MiB) plus the channel's buffer.
  const line = `${JSON.stringify({ v: 1, event: 'step', time: 1, rank: 0, step: 3, loss: 1 })}\n`;
  appendFileSync(`${rec.dir}/events.jsonl`, line.repeat(Math.ceil((16 << 20) / line.length)));
  const total = statSync(`${rec.dir}/events.jsonl`).size;

  const chunks: Buffer[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const following = backend.follow(rec, 0, (chunk) => {
    chunks.push(chunk);
    return chunks.length === 1 ? gate : undefined;
  }, new AbortController().signal);
  while (chunks.length === 0) await sleep(20);
  await sleep(2000); // long enough for all 16 MiB to arrive on loopback if nothing held them back
  const whilePaused = chunks.reduce((n, c) => n + c.length, 0);
  release();
  await following;
  console.log(`paused consumer: ${whilePaused} of ${total} bytes delivered while paused`);
  assert.equal(chunks.length > 1, true);
  assert.ok(whilePaused < 1 << 20, `${whilePaused} bytes were delivered while the consumer was paused`);
  assert.ok(Buffer.concat(chunks).equals(readFileSync(`${rec.dir}/events.jsonl`)), 'every byte exactly once, in order');
});
