// Everything a view needs about one run, folded from its events: columnar step/eval series, status,
// the last error. Pure; the extension keeps one per watched run and posts the deltas to the run view.
import { STEP_METRICS } from '../events/stepMetrics';
import type { EngineEvent } from '../events/types';
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
          if (this.meta.status === 'starting' || this.meta.status === 'unknown') this.meta.status = 'running';
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
        case 'end':
          this.meta.status = e.status;
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
