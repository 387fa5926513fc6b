// Reattach to a remote run whose host did not answer the status check ("unknown"): it is still
// followed, so the view resumes once the host is back, and the final status is saved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/core/runs/store';
import type { RunBackend, RunRecord, RunStatus } from '../../src/core/runs/types';
import { RunWatcher } from '../../src/core/runs/watcher';

const line = (o: Record<string, unknown>): string => `${JSON.stringify({ v: 1, time: 1_700_000_000, rank: 0, ...o })}\n`;

function record(id: string, target: RunRecord['target']): RunRecord {
  return { id, name: id, target, engineArgs: [], dir: `/remote/${id}`, localDir: `/local/${id}`, createdAt: 1, status: 'running' };
}

/** A run's status is unknown (unreachable) until it was followed; the follow delivers the whole run. */
function flakyHost(): RunBackend & { followed: string[] } {
  const followed: string[] = [];
  return {
    followed,
    launch: () => Promise.reject(new Error('not used')),
    async follow(rec, _offset, onBytes): Promise<void> {
      followed.push(rec.id);
      onBytes(Buffer.from(line({ event: 'step', step: 1, loss: 5.5 }) + line({ event: 'step', step: 2, loss: 5.4 })
        + line({ event: 'end', status: 'completed', step: 2 })));
    },
    status: async (rec): Promise<RunStatus> => (followed.includes(rec.id) ? 'completed' : 'unknown'),
    stop: () => Promise.resolve(),
  };
}

test('a remote run on a host that did not answer is followed anyway; a local "unknown" one is not', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'watch-remote-')));
  const remote = record('r1', { kind: 'ssh', host: { name: 'gpu', host: 'gpu', port: 22, user: 'ana' } });
  const local = record('l1', { kind: 'local' });
  await store.save(remote);
  await store.save(local);
  const backend = flakyHost();
  const watcher = new RunWatcher(store, () => backend);
  const found = await watcher.reattach();
  assert.equal(found.find((r) => r.id === 'r1')?.status, 'unknown');
  assert.equal(found.find((r) => r.id === 'l1')?.status, 'unknown');
  assert.deepEqual(backend.followed, ['r1']);
  await watcher.settled('r1');
  assert.deepEqual(watcher.model('r1')?.steps.step, [1, 2]);
  assert.equal((await store.get('r1'))?.status, 'completed');
  watcher.dispose();
});

test('a launch still starting is not followed until its host knows it; then the real record replaces it', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'watch-starting-')));
  const target: RunRecord['target'] = { kind: 'multinode', hosts: [{ name: 'a', host: 'a', port: 22, user: 'u' }], nprocPerNode: 1 };
  const starting: RunRecord = { ...record('m1', target), dir: '', status: 'starting' };
  await store.save(starting);
  const backend = flakyHost();
  let statusAsked = 0;
  const watcher = new RunWatcher(store, () => ({ ...backend, status: async (r) => { statusAsked++; return backend.status(r); } }));
  // What the editor does when the launcher writes the starting record: reattach.
  await watcher.reattach();
  assert.equal(watcher.model('m1'), undefined, 'a record without a folder is not followed');
  assert.equal(statusAsked, 0, 'nor is its status polled (it would read "unknown")');
  assert.equal((await store.get('m1'))?.status, 'starting');
  // The launch completes: the record now says where it runs, and following it delivers the run.
  const started = { ...starting, dir: '/remote/m1', status: 'running' as const };
  await store.save(started);
  const model = watcher.watch(started);
  await watcher.settled('m1');
  assert.deepEqual(model.steps.step, [1, 2]);
  assert.deepEqual(backend.followed, ['m1']);
});
