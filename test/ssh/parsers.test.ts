// Pure parsers and resolvers of the SSH layer, on literal inputs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGpuSampleLines } from '../../src/core/ssh/gpuSamples';
import { looksOffline, parseCheck, parseNvidiaSmiGpus } from '../../src/core/ssh/hostCheck';
import { parseRemoteState } from '../../src/core/ssh/runState';
import { parseDestination, resolveHost } from '../../src/core/ssh/sshConfig';

test('~/.ssh/config: alias, Include with a glob, explicit fields win, Match exec never runs', () => {
  const home = mkdtempSync(join(tmpdir(), 'sltrain-cfg-'));
  try {
    const canary = join(home, 'EXECUTED');
    mkdirSync(join(home, '.ssh', 'config.d'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'config'), [
      'Include config.d/*.conf', `Match exec "touch ${canary}"`, '  User hacked', 'Host *', '  User fallback', '',
    ].join('\n'));
    writeFileSync(join(home, '.ssh', 'config.d', 'gpu.conf'), 'Host gpu\n  HostName 127.0.0.1\n  Port 2202\n  User alice\n  IdentityFile ~/.ssh/gpu_key\n  ProxyJump bastion\n');
    const h = resolveHost({ name: 'gpu' }, home);
    assert.deepEqual(h, { name: 'gpu', host: '127.0.0.1', port: 2202, user: 'alice', identityFile: join(home, '.ssh', 'gpu_key'), proxyJump: 'bastion' });
    assert.ok(!existsSync(canary), 'Match exec must not be executed');
    assert.equal(resolveHost({ name: 'gpu', user: 'bob', port: 22 }, home).user, 'bob');
    assert.equal(resolveHost({ name: 'other' }, home).user, 'fallback');
    assert.equal(resolveHost({ name: 'carol@other:2222' }, home).port, 2222);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('destinations', () => {
  assert.deepEqual(parseDestination('u@h:22'), { user: 'u', host: 'h', port: 22 });
  assert.deepEqual(parseDestination('h'), { user: undefined, host: 'h', port: undefined });
  assert.deepEqual(parseDestination('u@[::1]:2222'), { user: 'u', host: '::1', port: 2222 });
  assert.deepEqual(parseDestination('::1'), { user: undefined, host: '::1', port: undefined });
  assert.throws(() => parseDestination('gpu:1:2'));
});

test('remote state: exit code, end event, stop marker, garbage lines', () => {
  const end = (s: string): string => JSON.stringify({ v: 1, event: 'end', status: s, step: 3 });
  assert.deepEqual(parseRemoteState('alive\n'), { status: 'running' });
  assert.deepEqual(parseRemoteState(`exit 0\n${end('completed')}\n`), { status: 'completed', exitCode: 0 });
  assert.deepEqual(parseRemoteState(`exit 0\n${end('stopped')}\n{"half`), { status: 'stopped', exitCode: 0 });
  assert.deepEqual(parseRemoteState('exit 3\n'), { status: 'failed', exitCode: 3 });
  assert.deepEqual(parseRemoteState('stopped\n'), { status: 'stopped' });
  assert.deepEqual(parseRemoteState('vanished\nnot json\n'), { status: 'failed' });
  assert.deepEqual(parseRemoteState('missing\n'), { status: 'unknown' });
  assert.deepEqual(parseRemoteState(''), { status: 'unknown' });
});

test('nvidia-smi output: GPU list and samples, ignoring errors and partial lines', () => {
  assert.deepEqual(parseNvidiaSmiGpus('NVIDIA H200, 143771\nNVIDIA H200, 143771\n'),
    [{ name: 'NVIDIA H200', memoryBytes: 143771 * 2 ** 20 }, { name: 'NVIDIA H200', memoryBytes: 143771 * 2 ** 20 }]);
  assert.deepEqual(parseNvidiaSmiGpus('NVIDIA-SMI has failed because it could not communicate with the driver.'), []);
  const s = parseGpuSampleLines('0, 97, 81234, 143771\n1, [N/A], 1, 2\n2, 5', 'gpu1', 10);
  assert.deepEqual(s, [{ host: 'gpu1', time: 10, gpu: 0, utilizationPct: 97, memoryUsedBytes: 81234 * 2 ** 20, memoryTotalBytes: 143771 * 2 ** 20 }]);
});

test('host check output and pip offline detection', () => {
  const r = parseCheck('python3', 'PROBE {"python": "3.11.2", "torch": "2.5.1", "cuda": false, "cudaVersion": "12.4"}\n---GPUS\nNVIDIA A100-SXM4-80GB, 81920\n');
  assert.equal(r.torchVersion, '2.5.1');
  assert.match(r.warnings[0], /nvidia-smi sees GPUs but torch cannot use CUDA/);
  assert.deepEqual(r.problems, []);
  assert.match(parseCheck('py', 'NOPYTHON\n---GPUS\n').problems[0], /not found/);
  assert.match(parseCheck('py', 'PROBE {"python": "3.9.0", "torchError": "No module named \'torch\'"}\n---GPUS\n').problems[0], /PyTorch is not installed/);
  assert.ok(looksOffline("WARNING: Retrying ... NewConnectionError('Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')"));
  assert.ok(!looksOffline('error: invalid command bdist_wheel'));
});
