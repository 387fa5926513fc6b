// "Measure here" on a host over the real sshd: the engine copy there measures the plan's step event
// by event and the timeline comes back, equal to the same measurement here; a setup the engine
// refuses comes back with its reason; nothing is left behind in the work directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseMeasuredTimeline } from '../../src/core/planner/measuredTimeline';
import { SshError } from '../../src/core/ssh/errors';
import { measureOnHost } from '../../src/core/ssh/remoteMeasure';
import { testDeps } from './harness/fakes';
import { makeWorld, remotePython, repoRoot } from './harness/world';
import type { World } from './harness/world';

let w: World;
before(async () => { w = await makeWorld(); });
after(async () => { await w.close(); });

const ENGINE = join(repoRoot(), 'engine');
const RUN = { model: 'llama_tiny', method: 'sltrain', precision: 'fp32', batch_size: 2, seq_len: 32, num_threads: 1 };

test('the host measures the step; its timeline equals the one measured here', async () => {
  const deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: ENGINE });
  const remote = parseMeasuredTimeline(await measureOnHost(w.host(), deps, RUN));
  assert.ok(remote && remote.events.length > 10, 'a timeline came back');
  const here = execFileSync(remotePython(), ['-m', 'sltrain.measure', '--json', '--timeline',
    ...Object.entries(RUN).flatMap(([k, v]) => [`--${k.replace(/_/g, '-')}`, String(v)])], { cwd: ENGINE }).toString();
  const local = parseMeasuredTimeline(JSON.parse(here.trim().split('\n').at(-1)!))!;
  assert.deepEqual(remote.events.map((e) => [e.name, e.bytes]), local.events.map((e) => [e.name, e.bytes]));
  const workDir = w.host().workDir!;
  assert.deepEqual(readdirSync(workDir).filter((f) => f.startsWith('measure-')), [], 'the run file is removed');
});

test("a setup the engine refuses comes back with the engine's reason", async () => {
  const deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: ENGINE });
  await assert.rejects(measureOnHost(w.host(), deps, { ...RUN, rank: 0 }),
    (e: unknown) => e instanceof SshError && /rank/.test(e.message) && e.message.startsWith(w.host().name));
});
