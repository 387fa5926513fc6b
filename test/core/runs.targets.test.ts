// The target registry is the one place that tells launch-target kinds apart: outside it, a module
// may only assert its own kind (a backend refusing a record of another kind), never branch on one.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { describeTarget, targetKind, targetWhere } from '../../src/core/runs/targets';
import type { RunTarget } from '../../src/core/runs/types';

function root(): string {
  let d = __dirname;
  while (!readdirSync(d).includes('package.json') || !readdirSync(d).includes('engine')) d = join(d, '..');
  return d;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const KIND_TEST = /\.kind\s*[!=]==\s*'(local|ssh|multinode|slurm)'/;
// `if (x.target.kind !== 'ssh') throw …`: a backend checking that a record is its own.
const OWN_KIND_GUARD = /\.kind\s*!==\s*'(local|ssh|multinode|slurm)'.*\)\s*throw /;

test('no module outside the registry compares a launch target kind', () => {
  const repo = root();
  const offenders = ['src/cli', 'src/extension', 'src/core'].flatMap((d) => sources(join(repo, d)))
    .filter((f) => !f.endsWith(join('src', 'core', 'runs', 'targets.ts')))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ f, line, i })))
    .filter(({ line }) => /target\.kind|t\.kind/.test(line) && KIND_TEST.test(line) && !OWN_KIND_GUARD.test(line))
    .map(({ f, line, i }) => `${relative(repo, f)}:${i + 1}: ${line.trim()}`);
  assert.deepEqual(offenders, []);
});

test('every kind has its description, list word and layout', () => {
  const host = { name: 'gpu1', host: 'gpu1', port: 22, user: 'ana' };
  const targets: RunTarget[] = [
    { kind: 'local' }, { kind: 'ssh', host }, { kind: 'multinode', hosts: [host, { ...host, name: 'gpu2', host: 'gpu2' }], nprocPerNode: 2 },
    { kind: 'slurm', cluster: { name: 'hpc', nodes: 1, gpusPerNode: 4 } },
  ];
  assert.deepEqual(targets.map(targetWhere), ['local', 'gpu1', '2 nodes', 'slurm:hpc']);
  assert.deepEqual(targets.map((t) => targetKind(t).runsHere), [true, false, false, false]);
  for (const t of targets) assert.ok(describeTarget(t).length > 0);
  assert.throws(() => targetKind({ kind: 'cloud' } as unknown as RunTarget), /Unknown launch target "cloud"/);
});
