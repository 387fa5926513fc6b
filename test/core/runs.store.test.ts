// The run store on a temp directory: save/list/resolve/delete, corrupt folders skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRunId, RunStore } from '../../src/core/runs/store';
import type { RunRecord } from '../../src/core/runs/types';

function record(id: string, createdAt: number, name = 'llama_tiny sltrain'): RunRecord {
  return { id, name, target: { kind: 'local' }, engineArgs: ['--steps', '5'], dir: `/r/${id}`, localDir: `/r/${id}`, createdAt, status: 'running' };
}

test('newRunId is sortable and readable', () => {
  const id = newRunId(Date.UTC(2026, 10, 29, 1, 2, 3), () => 0.5);
  assert.match(id, /^20261129-010203-[0-9a-z]{4}$/);
});

test('save, list newest first, resolve by id, prefix and name, delete', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'store-')));
  assert.deepEqual(await store.list(), []);
  await store.save(record('20261129-010000-aaaa', 1));
  await store.save(record('20261129-020000-bbbb', 2, 'other'));
  await mkdir(join(store.root, 'corrupt'));
  await writeFile(join(store.root, 'corrupt', 'run.json'), '{"id": 3');
  assert.deepEqual((await store.list()).map((r) => r.id), ['20261129-020000-bbbb', '20261129-010000-aaaa']);
  assert.equal((await store.resolve('20261129-01'))?.id, '20261129-010000-aaaa');
  assert.equal(await store.resolve('20261129'), undefined, 'ambiguous prefix');
  assert.equal((await store.resolve('other'))?.id, '20261129-020000-bbbb');
  assert.equal(await store.get('../etc'), undefined);
  await store.save({ ...record('20261129-010000-aaaa', 1), status: 'completed' });
  assert.equal((await store.get('20261129-010000-aaaa'))?.status, 'completed');
  await store.delete('20261129-010000-aaaa');
  assert.equal((await store.list()).length, 1);
  await assert.rejects(store.delete('nope'));
});
