// The launch target pick: `sltrain.hosts` entries and ~/.ssh/config aliases → picks → RunTarget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeTarget, hostsFromSettings, nprocProblem, remoteRunDirHint, sshConfigAliases, targetChoices, targetFor,
  type TargetChoice,
} from '../../src/core/runs/launchTargets';
import type { HostSpec } from '../../src/core/runs/types';

const HOME = '/home/ana';

test('settings hosts: defaults filled in, ~ expanded, bad entries reported and skipped', () => {
  const r = hostsFromSettings([
    { name: 'gpu1', host: 'gpu1.lab', port: 2222, user: 'ml', identityFile: '~/.ssh/id_lab', python: '/opt/venv/bin/python', workDir: '/scratch/ana' },
    { name: 'gpu2', host: '10.0.0.2' },
    { name: 'gpu1', host: 'dup' },
    { host: 'nameless' },
    { name: 'badport', host: 'x', port: 70000 },
    { name: 'badkey', host: 'x', identityFile: 3 },
    'gpu3',
  ], 'ana', HOME);
  assert.deepEqual(r.hosts, [
    { name: 'gpu1', host: 'gpu1.lab', port: 2222, user: 'ml', identityFile: '/home/ana/.ssh/id_lab', python: '/opt/venv/bin/python', workDir: '/scratch/ana' },
    { name: 'gpu2', host: '10.0.0.2', port: 22, user: 'ana' },
  ]);
  assert.equal(r.problems.length, 5);
  assert.match(r.problems[0], /second host named "gpu1"/);
  assert.match(r.problems[2], /badport.*port/);
  assert.deepEqual(hostsFromSettings(undefined, 'ana', HOME), { hosts: [], problems: [] });
  assert.deepEqual(hostsFromSettings({ name: 'x' }, 'ana', HOME).problems, ['"sltrain.hosts" must be a list of hosts.']);
});

test('ssh config aliases: concrete names only, in order, no duplicates', () => {
  const text = [
    'Host *', '  ServerAliveInterval 30',
    'Host gpu-a gpu-b  # lab boxes', '  User ml',
    'host = "gpu c"', 'Host !bastion *.internal gpu-?', 'Host gpu-a', 'Match host foo', '  HostName gpu-a.lab',
    '  Hostname notahost',
  ].join('\n');
  assert.deepEqual(sshConfigAliases(text), ['gpu-a', 'gpu-b', 'gpu c']);
  assert.deepEqual(sshConfigAliases(''), []);
});

const gpu1: HostSpec = { name: 'gpu1', host: 'gpu1.lab', port: 22, user: 'ml' };

test('choices: local first, settings then new aliases, "several" only with two hosts, add last', () => {
  const kinds = (cs: TargetChoice[]): string[] => cs.map((c) => (c.kind === 'host' ? `${c.source}:${c.host.name}` : c.kind));
  assert.deepEqual(kinds(targetChoices([], [], 'ana')), ['local', 'addHost']);
  assert.deepEqual(kinds(targetChoices([gpu1], [], 'ana')), ['local', 'settings:gpu1', 'addHost']);
  // An alias already in the settings (by name or host name) is not offered twice.
  assert.deepEqual(kinds(targetChoices([gpu1], ['gpu1', 'gpu1.lab', 'gpu2'], 'ana')),
    ['local', 'settings:gpu1', 'ssh-config:gpu2', 'several', 'addHost']);
  const alias = targetChoices([], ['gpu2'], 'ana')[1];
  assert.deepEqual(alias, { kind: 'host', source: 'ssh-config', host: { name: 'gpu2', host: 'gpu2', port: 22, user: 'ana' } });
});

test('pick → RunTarget', () => {
  const gpu2: HostSpec = { name: 'gpu2', host: 'gpu2', port: 22, user: 'ana' };
  assert.deepEqual(targetFor({ kind: 'local' }), { kind: 'local' });
  assert.deepEqual(targetFor({ kind: 'host', host: gpu1, source: 'settings' }), { kind: 'ssh', host: gpu1 });
  const several: TargetChoice = { kind: 'several', hosts: [gpu1, gpu2] };
  assert.deepEqual(targetFor(several, [gpu1, gpu2], ' 4 '), { kind: 'multinode', hosts: [gpu1, gpu2], nprocPerNode: 4 });
  assert.throws(() => targetFor(several, [gpu1], '1'), /at least two different hosts/);
  assert.throws(() => targetFor(several, [gpu1, gpu1], '1'), /at least two different hosts/);
  assert.throws(() => targetFor(several, [gpu1, gpu2], '0'), /at least 1/);
  assert.throws(() => targetFor({ kind: 'addHost' }), /not a target/);
});

test('processes per node', () => {
  assert.equal(nprocProblem('8'), undefined);
  for (const bad of ['', '0', '-1', '1.5', 'two', '01']) assert.ok(nprocProblem(bad), bad);
  assert.match(nprocProblem('5000') ?? '', /1024/);
});

test('confirm dialog lines', () => {
  assert.equal(describeTarget({ kind: 'local' }), 'this machine');
  assert.equal(describeTarget({ kind: 'ssh', host: gpu1 }), 'gpu1 (ml@gpu1.lab)');
  assert.equal(describeTarget({ kind: 'ssh', host: { name: 'box', host: 'box', port: 22, user: 'ana' } }), 'box');
  assert.equal(describeTarget({ kind: 'ssh', host: { ...gpu1, port: 2222 } }), 'gpu1 (ml@gpu1.lab:2222)');
  assert.equal(describeTarget({ kind: 'multinode', hosts: [gpu1, { ...gpu1, name: 'gpu2' }], nprocPerNode: 8 }),
    '2 hosts with torchrun (gpu1, gpu2), 8 processes per node');
  assert.equal(remoteRunDirHint({ kind: 'local' }), undefined);
  assert.equal(remoteRunDirHint({ kind: 'ssh', host: { ...gpu1, workDir: '/scratch' } }), 'gpu1:/scratch/runs/<run id>');
  assert.equal(remoteRunDirHint({ kind: 'ssh', host: gpu1 }), 'gpu1:~/.sltrain/runs/<run id>');
});
