// Hostile run names, work directories and engine arguments: nothing may execute, and every string
// must reach the remote process byte for byte.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSshBackend } from '../../src/core/ssh/backend';
import type { RunBackend } from '../../src/core/runs/types';
import { collector } from './harness/collect';
import { testDeps } from './harness/fakes';
import { fixtureEngine, makeWorld } from './harness/world';
import type { World } from './harness/world';

let w: World;
let backend: RunBackend;
let canary: string;
before(async () => {
  w = await makeWorld();
  canary = join(w.dir, 'CANARY');
  backend = createSshBackend(testDeps({ home: w.home, knownHosts: w.knownHosts, engineDir: fixtureEngine() }));
});
after(async () => { await w.close(); });

function hostile(c: string): string[] {
  return [
    '', ' ', "'", '"', '\\', '$HOME', '${HOME}', `$(touch ${c})`, `\`touch ${c}\``, `; touch ${c}`,
    `'; touch ${c}; echo '`, `"; touch ${c}; "`, `\ntouch ${c}\n`, `&& touch ${c}`, `| touch ${c}`, `> ${c}`,
    `$(touch ${c}`, "'\"'\"'", '*', '~', '~root', '-- --help', '$((1+1))', '!!', '\t\r', 'naïve 🚀 名前 ℵ', "it's",
    '%s%n', '\x1b[31m', '#c', '\\$(touch x)', `${'a'.repeat(2000)}'$(touch ${c})'`,
  ];
}

/** Deterministic random strings over shell metacharacters (seeded, so failures reproduce). */
function randomHostile(n: number, seed: number, c: string): string[] {
  const alphabet = ['\'', '"', '`', '$', '(', ')', ';', '&', '|', '<', '>', '*', '?', '~', '!', '#', '\\', ' ', '\n',
    '\t', '{', '}', '[', ']', 'é', '🚀', 'a', '-', '=', `touch ${c}`];
  let s = seed;
  const rnd = (k: number): number => { s = (s * 1103515245 + 12345) % 2 ** 31; return s % k; };
  return Array.from({ length: n }, () => Array.from({ length: 1 + rnd(24) }, () => alphabet[rnd(alphabet.length)]).join(''));
}

const hex = (x: string): string => Buffer.from(x, 'utf8').toString('hex');

test('hostile names, paths and engine arguments run nothing and arrive byte-exact', async () => {
  const args = [...hostile(canary), ...randomHostile(40, 7, canary)];
  const name = `run "x" '$(touch ${canary})' \`touch ${canary}\`; touch ${canary} ✓\nline2`;
  const workDir = join(w.dir, `work dir '$(touch ${canary})' ; \`touch ${canary}\` é`);
  const host = w.host(0, { workDir });
  const rec = await backend.launch({ id: 'fuzz-1', name, target: { kind: 'ssh', host }, engineArgs: args });
  assert.ok(rec.dir.startsWith(workDir));
  const got = collector();
  await backend.follow(rec, 0, got.onBytes, new AbortController().signal);
  const start = got.events()[0] as { argv_hex: string[]; name_hex: string };
  assert.deepEqual(start.argv_hex, [...args, '--out', rec.dir].map(hex));
  assert.equal(start.name_hex, hex(name));
  assert.equal(await backend.status(rec), 'completed');
  assert.ok(!existsSync(canary), 'the canary file must not exist');
  for (const d of [w.dir, workDir, rec.dir]) assert.ok(!readdirSync(d).some((f) => f.includes('CANARY') || f === 'x'));
});

test('a run id that is not a plain name is refused before anything runs', async () => {
  await assert.rejects(backend.launch({ id: '../x', name: 'n', target: { kind: 'ssh', host: w.host() }, engineArgs: [] }), /Invalid run id/);
  await assert.rejects(backend.launch({ id: 'a;b', name: 'n', target: { kind: 'ssh', host: w.host() }, engineArgs: [] }), /Invalid run id/);
});
