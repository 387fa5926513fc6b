// Reattach: a window closes mid-run (its watcher is disposed) and a new one finds the run in the store
// and follows it; every step arrives exactly once in the new model, and history does not notify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalBackend } from '../../src/core/runs/localBackend';
import { newRunId, RunStore } from '../../src/core/runs/store';
import { RunWatcher, type RunUpdate } from '../../src/core/runs/watcher';

const FAKE = resolve(__dirname, '../../../test/core/fixtures/fake_engine.py');

test('reattach after the first watcher went away: all steps once, status saved, live updates flagged', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'watch-')));
  const backend = new LocalBackend({ runsDir: store.root, command: ['python3', FAKE], pollMs: 50 });
  const rec = await backend.launch({ id: newRunId(Date.now()), name: 'fake', target: { kind: 'local' }, engineArgs: ['--steps', '30', '--step-ms', '30'] });
  await store.save(rec);

  const first = new RunWatcher(store, () => backend);
  first.watch(rec);
  for (let i = 0; i < 100 && (first.model(rec.id)?.steps.step.length ?? 0) < 5; i++) await new Promise((r) => setTimeout(r, 50));
  first.dispose();

  const second = new RunWatcher(store, () => backend);
  const updates: RunUpdate[] = [];
  second.onUpdate((u) => updates.push(u));
  const found = await second.reattach();
  assert.equal(found.find((r) => r.id === rec.id)?.status, 'running');
  await second.settled(rec.id);
  const model = second.model(rec.id);
  assert.deepEqual(model?.steps.step, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(model?.meta.status, 'completed');
  assert.ok(updates.some((u) => u.live && u.delta.ended === 'completed'));
  assert.equal((await store.get(rec.id))?.status, 'completed');
  assert.equal(second.offset(rec.id), (await readFile(join(rec.dir, 'events.jsonl'))).length);

  // A third window opening after the end: history only, nothing live.
  const third = new RunWatcher(store, () => backend, () => Date.now() + 60_000);
  const late: RunUpdate[] = [];
  third.onUpdate((u) => late.push(u));
  third.watch((await store.get(rec.id))!);
  await third.settled(rec.id);
  assert.equal(third.model(rec.id)?.steps.step.length, 30);
  assert.ok(late.every((u) => !u.live));
  second.dispose();
  third.dispose();
});

test('a run whose events.jsonl links to /dev/zero ends its follower and shows why, instead of reading forever', async () => {
  const store = new RunStore(await mkdtemp(join(tmpdir(), 'watch-zero-')));
  const backend = new LocalBackend({ runsDir: store.root, command: ['python3', FAKE], pollMs: 50 });
  const dir = store.dirFor('20261202-000000-zero');
  const rec = { id: '20261202-000000-zero', name: 'zero', target: { kind: 'local' as const }, engineArgs: [], dir, localDir: dir, createdAt: 0, status: 'completed' as const };
  await store.save(rec);
  await symlink('/dev/zero', join(dir, 'events.jsonl'));
  const watcher = new RunWatcher(store, () => backend);
  const updates: RunUpdate[] = [];
  watcher.onUpdate((u) => updates.push(u));
  const model = watcher.watch(rec);
  // Generous: the refusal takes milliseconds; only a follower that never returns reaches it.
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    watcher.settled(rec.id).then(() => true),
    new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 60_000); }),
  ]);
  clearTimeout(timer);
  watcher.dispose();
  assert.equal(settled, true, 'the follower never returned');
  assert.match(model.meta.lastError?.message ?? '', /events\.jsonl is a symbolic link, not the regular file the engine writes/);
  assert.ok(updates.some((u) => u.delta.metaChanged));
});
