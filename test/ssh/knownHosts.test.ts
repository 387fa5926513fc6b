import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprintSha256, keyTypeOf } from '../../src/core/ssh/fingerprint';
import { hostsFieldMatches, knownHostsLine, parseKnownHosts, verifyHostKey } from '../../src/core/ssh/knownHosts';
import { keygen } from './harness/sshd';

const dir = mkdtempSync(join(tmpdir(), 'sltrain-kh-'));
keygen(join(dir, 'a'));
keygen(join(dir, 'b'));
const pub = (n: string): [string, Buffer] => {
  const [type, b64] = readFileSync(join(dir, `${n}.pub`), 'utf8').trim().split(/\s+/);
  return [type, Buffer.from(b64, 'base64')];
};
const [typeA, keyA] = pub('a');
const [, keyB] = pub('b');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('fingerprint and key type match ssh-keygen -l', () => {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'a.pub')], { encoding: 'utf8' });
  assert.equal(fingerprintSha256(keyA), out.split(/\s+/)[1]);
  assert.equal(keyTypeOf(keyA), typeA);
});

test('patterns: wildcards, negation, [host]:port, case-insensitive', () => {
  assert.ok(hostsFieldMatches('*.example.com,!bad.example.com', 'gpu1.EXAMPLE.com'));
  assert.ok(!hostsFieldMatches('*.example.com,!bad.example.com', 'bad.example.com'));
  assert.ok(hostsFieldMatches('gpu?', 'gpu7'));
  assert.ok(!hostsFieldMatches('gpu?', 'gpu17'));
  assert.ok(hostsFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222'));
  assert.ok(!hostsFieldMatches('127.0.0.1', '[127.0.0.1]:2222'));
  assert.ok(hostsFieldMatches('[127.0.0.1]:*', '[127.0.0.1]:2222'));
});

test('hashed entries written by ssh-keygen -H are matched, others are not', () => {
  const file = join(dir, 'kh_hashed');
  writeFileSync(file, `[127.0.0.1]:2222 ${typeA} ${keyA.toString('base64')}\ngpu.example.com ${typeA} ${keyA.toString('base64')}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('|1|'));
  const entries = parseKnownHosts(text);
  assert.deepEqual(verifyHostKey(entries, '127.0.0.1', 2222, keyA).kind, 'trusted');
  assert.deepEqual(verifyHostKey(entries, 'gpu.example.com', 22, keyA).kind, 'trusted');
  assert.deepEqual(verifyHostKey(entries, '127.0.0.1', 2223, keyA).kind, 'unknown');
});

test('our own appended line is hashed and verifiable by ssh-keygen -F', () => {
  const file = join(dir, 'kh_ours');
  writeFileSync(file, knownHostsLine('127.0.0.1', 2200, typeA, keyA, Buffer.alloc(20, 7)));
  assert.equal(verifyHostKey(parseKnownHosts(readFileSync(file, 'utf8')), '127.0.0.1', 2200, keyA).kind, 'trusted');
  const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2200', '-f', file], { encoding: 'utf8' });
  assert.match(found, /found: line 1/);
});

test('changed, revoked and cert-authority entries', () => {
  const a = keyA.toString('base64');
  const b = keyB.toString('base64');
  const entries = parseKnownHosts([
    '# comment', '', `gpu1 ${typeA} ${a}`, `@revoked * ${typeA} ${b}`,
    `@cert-authority *.lab ${typeA} ${a}`, '@bogus gpu1 x y', 'garbage',
  ].join('\n'));
  assert.equal(entries.length, 3);
  assert.equal(verifyHostKey(entries, 'gpu1', 22, keyA).kind, 'trusted');
  assert.equal(verifyHostKey(entries, 'gpu1', 22, keyB).kind, 'revoked');
  const changed = parseKnownHosts(`gpu1 ${typeA} ${a}\n`);
  assert.deepEqual(verifyHostKey(changed, 'gpu1', 22, keyB), { kind: 'changed', line: 1, knownType: typeA });
  // A CA line alone neither trusts a plain key nor makes it "changed".
  assert.equal(verifyHostKey(entries, 'x.lab', 22, keyA).kind, 'unknown');
});
