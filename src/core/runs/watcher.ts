// Keeps one RunModel per run of interest, fed by a follower, for every view of the same run (run view,
// tree, status bar). On activation `reattach()` finds the runs still going in the store and follows
// them; each follower starts at byte 0 of events.jsonl (this process has no earlier state) and then
// continues from the offset of its last complete line, so nothing is lost or repeated.
import { followRun } from './follower';
import { RunModel, type ModelDelta } from './runModel';
import type { RunStore } from './store';
import { emptyEvalColumns, emptyStepColumns } from '../../webviewApi/protocol/runview';
import type { RunBackend, RunRecord, RunStatus } from './types';
import { targetKind } from './targets';

export interface RunUpdate {
  id: string;
  delta: ModelDelta;
  /** Events written after this watcher started following (drives notifications; history does not). */
  live: boolean;
}

interface Watched {
  record: RunRecord;
  model: RunModel;
  offset: number;
  abort: AbortController;
  done: Promise<void>;
}

type Listener<T> = (value: T) => void;

const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'stopped'];

export class RunWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly updateListeners = new Set<Listener<RunUpdate>>();
  private readonly changeListeners = new Set<Listener<void>>();

  constructor(
    readonly store: RunStore,
    private readonly backendFor: (record: RunRecord) => RunBackend,
    private readonly now: () => number = Date.now,
  ) {}

  onUpdate(listener: Listener<RunUpdate>): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** Runs added, removed or changed status. */
  onChange(listener: Listener<void>): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Refreshes every stored run's status and follows those still running. */
  async reattach(): Promise<RunRecord[]> {
    const records = await this.store.list();
    const out: RunRecord[] = [];
    for (const stored of records) {
      // A launch in progress (or one whose link dropped) is followed only once its host says it started:
      // its record has no run folder or process yet, and following it would wait on nothing.
      const r = stored.status === 'starting' ? await this.reconciled(stored) : stored;
      if (r.status === 'starting') {
        out.push(r);
        continue;
      }
      const status = await this.refreshStatus(r);
      out.push({ ...r, status });
      // "unknown" on a remote target means its host did not answer just now, not that the run is gone:
      // follow it anyway, since the SSH follower reconnects with backoff and resumes when the host is back.
      if (status === 'running' || status === 'queued' || (status === 'unknown' && !targetKind(r.target).runsHere)) this.watch({ ...r, status });
    }
    this.fireChange();
    return out;
  }

  /** The host's view of a `starting` record (its folder and process once started); never throws. */
  private async reconciled(record: RunRecord): Promise<RunRecord> {
    const backend = this.backendFor(record);
    if (!backend.reconcile) return record;
    try {
      const r = await backend.reconcile(record);
      if (r.status !== 'starting') await this.store.save(r).catch(() => undefined);
      return r;
    } catch {
      return record;
    }
  }

  /** Follows a run (idempotent) and returns its model; a finished run is read once to its end. */
  watch(record: RunRecord): RunModel {
    const existing = this.watched.get(record.id);
    // Idempotent, except that a record which has learnt where it runs replaces one that had not.
    if (existing && !(existing.record.dir === '' && record.dir !== '')) return existing.model;
    if (existing) this.unwatch(record.id);
    const model = new RunModel({
      id: record.id, name: record.name, status: record.status,
      // Its folder is here (not a host's): tracker folders in it can be revealed on this machine.
      local: record.dir !== '' && record.dir === record.localDir,
      ...(record.predictedPeakBytes !== undefined ? { predictedPeakBytes: record.predictedPeakBytes } : {}),
    });
    const abort = new AbortController();
    const since = this.now() / 1000 - 1;
    const w: Watched = { record, model, offset: 0, abort, done: Promise.resolve() };
    this.watched.set(record.id, w);
    const backend = this.backendFor(record);
    w.done = followRun(backend, record, 0, (events, offset) => {
      w.offset = offset;
      const delta = model.apply(events);
      const live = events.some((e) => e.time >= since);
      for (const l of this.updateListeners) l({ id: record.id, delta, live });
    }, abort.signal).then(async () => {
      if (abort.signal.aborted) return;
      const status = await this.refreshStatus(record);
      if (model.meta.status !== status) {
        model.meta.status = status;
        for (const l of this.updateListeners) l({ id: record.id, delta: { ...emptyDelta(), metaChanged: true }, live: false });
      }
      this.fireChange();
    }, (err: unknown) => {
      // Following failed for good (e.g. the events file is not a regular file): say why in the views.
      model.meta.lastError = { message: err instanceof Error ? err.message : String(err), code: 'follow-failed' };
      for (const l of this.updateListeners) l({ id: record.id, delta: { ...emptyDelta(), metaChanged: true }, live: false });
      this.fireChange();
    });
    return model;
  }

  model(id: string): RunModel | undefined {
    return this.watched.get(id)?.model;
  }

  /** Byte offset just after the last complete line received for a run (for tests and diagnostics). */
  offset(id: string): number | undefined {
    return this.watched.get(id)?.offset;
  }

  /** Resolves when the run's follower has returned (the run ended or was unwatched). */
  async settled(id: string): Promise<void> {
    await this.watched.get(id)?.done;
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    w.abort.abort();
    this.watched.delete(id);
  }

  async stop(record: RunRecord, graceMs: number): Promise<RunStatus> {
    await this.backendFor(record).stop(record, graceMs);
    const status = await this.refreshStatus(record);
    this.fireChange();
    return status;
  }

  async delete(id: string): Promise<void> {
    this.unwatch(id);
    await this.store.delete(id);
    this.fireChange();
  }

  /** Asks the backend and saves the record when its status moved; never throws. */
  async refreshStatus(record: RunRecord): Promise<RunStatus> {
    // A launch still starting is the launcher's to complete (or reattach's to reconcile), not a status to poll.
    if (TERMINAL.includes(record.status) || record.status === 'starting') return record.status;
    let status: RunStatus;
    let scheduler = record.scheduler;
    try {
      const backend = this.backendFor(record);
      status = await backend.status(record);
      // A batch job's state, reason, expected start and nodes go with the record to every view.
      if (backend.scheduler) scheduler = await backend.scheduler(record);
    } catch {
      return record.status;
    }
    if (status !== record.status || JSON.stringify(scheduler) !== JSON.stringify(record.scheduler)) {
      await this.store.save({ ...record, status, ...(scheduler ? { scheduler } : {}) }).catch(() => undefined);
    }
    return status;
  }

  fireChange(): void {
    for (const l of this.changeListeners) l();
  }

  dispose(): void {
    for (const id of [...this.watched.keys()]) this.unwatch(id);
    this.updateListeners.clear();
    this.changeListeners.clear();
  }
}

function emptyDelta(): ModelDelta {
  return {
    steps: emptyStepColumns(), evals: emptyEvalColumns(), metaChanged: false,
  };
}
