import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { shJoin, shQuote } from '../../src/core/ssh/quote';

export const HOSTILE = [
  '', ' ', "'", '"', '\\', '$HOME', '${HOME}', '$(touch CANARY)', '`touch CANARY`', '; touch CANARY',
  "'; touch CANARY; echo '", '"; touch CANARY; "', '\ntouch CANARY\n', '&& touch CANARY', '| touch CANARY',
  '> CANARY', '*', '~', '-- --help', '$((1+1))', '!!', '\t\r', 'naïve 🚀 名前', "it's", '%s%n', '\x1b[31m', '#c',
];

test('quoted words reach bash byte-exact and run nothing', () => {
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${shJoin(HOSTILE)}`], { cwd: '/tmp' });
  assert.deepEqual(out.toString('utf8').split('\0').slice(0, -1), HOSTILE);
});

test('safe words stay readable; NUL is refused', () => {
  assert.equal(shQuote('--lr'), '--lr');
  assert.equal(shQuote('/a/b-c_d.json'), '/a/b-c_d.json');
  assert.equal(shQuote("a'b"), "'a'\\''b'");
  assert.throws(() => shQuote('a\0b'));
});
