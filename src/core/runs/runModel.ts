// Everything a view needs about one run, folded from its events: columnar step/eval series, status,
// the last error. Pure; the extension keeps one per watched run and posts the deltas to the run view.
import { STEP_METRICS } from '../events/stepMetrics';
import type { EndStatus, EngineEvent } from '../events/types';
import type { RunStatus } from './types';
import { statusFromExit } from './runFiles';
import {
  emptyEvalColumns, emptyStepColumns, type EvalColumns, type RunMeta, type RunSnapshot, type StepColumns,
} from '../../webviewApi/protocol/runview';

export interface ModelDelta {
  steps: StepColumns;
  evals: EvalColumns;
  /** True when status, total steps or the last error changed. */
  metaChanged: boolean;
  /** Notable transitions for notifications. */
  ended?: 'completed' | 'failed' | 'stopped';
  diverged?: string;
}

function finite(n: number | undefined): number | null {
  return n === undefined || !Number.isFinite(n) ? null : n;
}

export class RunModel {
  readonly steps: StepColumns = emptyStepColumns();
  readonly evals: EvalColumns = emptyEvalColumns();
  /** Last step seen from rank 0 (status bar, CLI). */
  private lastStep = -1;
  private endedInStream = false;

  constructor(readonly meta: RunMeta) {}

  /** Folds events in; returns only what is new since the previous call. */
  apply(events: readonly EngineEvent[]): ModelDelta {
    const delta: ModelDelta = { steps: emptyStepColumns(), evals: emptyEvalColumns(), metaChanged: false };
    for (const e of events) {
      switch (e.event) {
        case 'start': {
          const steps = e.config.steps;
          if (typeof steps === 'number') this.meta.totalSteps = steps;
          if (e.device) this.meta.device = e.device;
          // A start after an end in the same stream is a requeued or resumed job running again.
          if (['starting', 'unknown', 'queued'].includes(this.meta.status) || this.endedInStream) this.meta.status = 'running';
          this.endedInStream = false;
          delta.metaChanged = true;
          break;
        }
        case 'step': {
          if (e.rank !== 0) break;
          this.lastStep = e.step;
          for (const cols of [this.steps, delta.steps]) {
            cols.step.push(e.step);
            for (const m of STEP_METRICS) cols[m.key].push(finite(e[m.key]));
            cols.time.push(e.time);
          }
          break;
        }
        case 'eval':
          if (e.rank !== 0) break;
          for (const cols of [this.evals, delta.evals]) {
            cols.step.push(e.step);
            cols.loss.push(finite(e.loss));
          }
          break;
        case 'error':
          this.meta.lastError = { message: e.message, ...(e.code ? { code: e.code } : {}) };
          if (e.code === 'diverged') delta.diverged = e.message;
          delta.metaChanged = true;
          break;
        case 'tracker': {
          const { name, url, path, command } = e;
          const link = { name, ...(url ? { url } : {}), ...(path ? { path } : {}), ...(command ? { command } : {}) };
          // A resumed run announces its trackers again: the newest word on each replaces the older.
          this.meta.trackers = [...(this.meta.trackers ?? []).filter((t) => t.name !== name), link];
          delta.metaChanged = true;
          break;
        }
        case 'end':
          this.meta.status = e.status;
          this.endedInStream = true;
          delta.ended = e.status;
          delta.metaChanged = true;
          break;
        default:
          break;
      }
    }
    return delta;
  }

  get latestStep(): number {
    return this.lastStep;
  }

  snapshot(): RunSnapshot {
    return { meta: { ...this.meta }, steps: this.steps, evals: this.evals };
  }
}

/**
 * What a backend learned about a run, without judging it: the local wrapper, an SSH host's run folder
 * and a Slurm job all report these, and decideStatus alone turns them into a status.
 */
export interface RunFacts {
  /** The run's process group (or, for a batch job, its engine) is alive now and is this run's. */
  alive: boolean;
  /** A process or job was recorded for this run (pid, pgid file, job id). */
  launched: boolean;
  /** The recorded process is someone else's (a reused pid, an edited record): nothing can be said. */
  foreign?: boolean;
  /** The record was saved before its launch returned. */
  starting?: boolean;
  exitCode?: number;
  /** The last `end` event of events.jsonl. */
  end?: EndStatus;
  /** stop() wrote its marker into the run folder before signalling. */
  stopRequested: boolean;
  /** A batch scheduler's word on the job (absent when it no longer knows it). */
  scheduler?: { state: string; requeue: boolean };
}

/** Slurm's states of a job that waits for (another) allocation. */
const QUEUED = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'CONFIGURING', 'RESV_DEL_HOLD', 'SUSPENDED', 'STOPPED']);
const ACTIVE = new Set(['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'RESIZING']);

function fromScheduler(state: string, requeue: boolean, f: RunFacts): RunStatus | undefined {
  if (QUEUED.has(state) || (state === 'PREEMPTED' && requeue)) return 'queued';
  if (ACTIVE.has(state)) return 'running';
  // The engine's own end event knows "stopped" (checkpointed on SIGTERM) from "failed".
  if (state === 'COMPLETED') return f.end ?? (f.exitCode === undefined || f.exitCode === 0 ? 'completed' : 'failed');
  if (state === 'CANCELLED') return f.end === 'completed' ? 'completed' : 'stopped';
  if (state === 'PREEMPTED') return f.end ?? 'stopped';
  if (state === 'TIMEOUT' || state === 'DEADLINE') return f.end === 'stopped' ? 'stopped' : 'failed';
  if (['FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL'].includes(state)) return 'failed';
  return undefined; // a state this version does not know: the run folder decides
}

/** The one place a run's status is decided, for every kind of target. */
export function decideStatus(f: RunFacts): RunStatus {
  const s = f.scheduler ? fromScheduler(f.scheduler.state, f.scheduler.requeue, f) : undefined;
  if (s) return s;
  if (f.alive) return 'running';
  if (f.end) return f.end;
  if (f.exitCode !== undefined) return statusFromExit(f.exitCode, f.stopRequested);
  if (!f.launched) return f.starting ? 'failed' : 'unknown';
  if (f.foreign) return 'unknown';
  // Gone without an exit code: killed (by stop or by the OS), or the machine rebooted.
  return f.stopRequested ? 'stopped' : 'failed';
}
