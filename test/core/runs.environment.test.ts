// Environment checks against a fake command runner: each failure gives one actionable issue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnvironment, pythonCandidates, type CommandResult, type CommandRunner } from '../../src/core/runs/environment';

function runner(byPython: Record<string, CommandResult>): CommandRunner {
  return { run: async (cmd) => byPython[cmd] ?? { code: null, stdout: '', stderr: '', spawnError: 'ENOENT' } };
}
const ok = (o: object): CommandResult => ({ code: 0, stdout: `PROBE ${JSON.stringify(o)}\n`, stderr: '' });

test('candidates: setting, Python extension, bundled venv, python3, without duplicates', () => {
  assert.deepEqual(pythonCandidates({ setting: '/s/py', pythonExtension: '/s/py', engineDir: '/ext/engine' }),
    ['/s/py', '/ext/engine/.venv/bin/python', 'python3']);
  assert.deepEqual(pythonCandidates({ setting: '', engineDir: '/ext/engine' }), ['/ext/engine/.venv/bin/python', 'python3']);
});

test('no python at all → an error with the venv fix', async () => {
  const r = await checkEnvironment(runner({}), ['/nope', 'python3'], '/e');
  assert.equal(r.issues[0].code, 'python-missing');
  assert.equal(r.issues[0].fix, 'create-venv');
  assert.match(r.issues[0].message, /sltrain\.pythonPath/);
});

test('falls through to the first interpreter that starts; torch missing is an error', async () => {
  const r = await checkEnvironment(runner({ python3: ok({ python: '3.11.2', torchError: "ModuleNotFoundError: No module named 'torch'", engine: true }) }), ['/nope', 'python3'], '/e');
  assert.equal(r.python, 'python3');
  assert.deepEqual(r.issues.map((i) => [i.code, i.severity]), [['torch-missing', 'error']]);
});

test('torch without CUDA is only a warning', async () => {
  const r = await checkEnvironment(runner({ py: ok({ python: '3.11', torch: '2.5.1', cuda: false, device: 'cpu', engine: true }) }), ['py'], '/e');
  assert.deepEqual(r.issues.map((i) => [i.code, i.severity]), [['no-cuda', 'warning']]);
  assert.equal(r.torchVersion, '2.5.1');
  const gpu = await checkEnvironment(runner({ py: ok({ python: '3.11', torch: '2.5.1', cuda: true, device: 'H200', engine: true }) }), ['py'], '/e');
  assert.deepEqual(gpu.issues, []);
  assert.equal(gpu.device, 'H200');
});

test('the trackers the interpreter imports come through; anything else in the list is dropped', async () => {
  const r = await checkEnvironment(runner({ py: ok({ python: '3.11', torch: '2.5.1', cuda: true, engine: true, trackers: ['tensorboard', 7, 'mlflow'] }) }), ['py'], '/e');
  assert.deepEqual(r.trackers, ['tensorboard', 'mlflow']);
  const old = await checkEnvironment(runner({ py: ok({ python: '3.11', torch: '2.5.1', cuda: true, engine: true }) }), ['py'], '/e');
  assert.equal(old.trackers, undefined, 'an engine that cannot say offers no list, not an empty one');
});
