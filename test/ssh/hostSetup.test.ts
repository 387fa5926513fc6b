// "Add GPU host" against a real sshd: engine upload by content hash, the host report, and a venv
// whose pip cannot reach an index reported as "no internet".
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setupHost, formatHostReport } from '../../src/core/ssh/hostSetup';
import { testDeps } from './harness/fakes';
import { fixtureEngine, makeWorld, remotePython } from './harness/world';
import type { World } from './harness/world';

let w: World;
before(async () => { w = await makeWorld(); });
after(async () => { await w.close(); });

test('engine uploaded once into engine-<sha256-12>, host reported', async () => {
  const deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() });
  const host = w.host();
  const first = await setupHost(host, deps);
  assert.match(first.engineCopy, /\/engine-[0-9a-f]{12}$/);
  assert.ok(existsSync(`${first.engineCopy}/sltrain/train.py`) && existsSync(`${first.engineCopy}/.complete`));
  const second = await setupHost(host, deps);
  assert.equal(second.engineCopy, first.engineCopy);
  assert.equal(deps.logger.lines.filter((l) => l.includes('Uploading the engine')).length, 1);
  assert.ok(!readdirSync(first.workDir).some((f) => f.includes('.tmp-')));
  assert.ok(first.report.torchVersion, 'torch found');
  assert.equal(first.report.cudaAvailable, false);
  assert.deepEqual(first.report.problems, []);
  console.log(formatHostReport(host, first.report));
});

test('missing python is a clear problem, not a crash', async () => {
  const deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() });
  const r = await setupHost(w.host(0, { python: '/nonexistent/python3' }), deps);
  assert.match(r.report.problems.join(' '), /was not found on the host/);
});

test('venv creation on a host without internet says so', async () => {
  const deps = testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() });
  // An index on a closed loopback port stands in for a host with no route to PyPI.
  const r = await setupHost(w.host(0, { python: undefined }), deps,
    { createVenv: { basePython: remotePython(), pipArgs: ['--index-url', 'http://127.0.0.1:9/simple'] } });
  assert.ok(r.venv && !r.venv.ok);
  assert.equal(r.venv.offline, true, r.venv.message);
  assert.match(r.venv.message, /has no internet access/);
});
