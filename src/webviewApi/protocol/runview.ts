// The run view's one message protocol (host ⇄ webview). Both sides import these unions; the webview
// posts `ready` first and the host answers with a full snapshot, then sends only appends and meta.
// Numbers are columnar arrays (cheap to post and to push into chart arrays); `null` marks a missing
// or non-finite value (JSON has no NaN), drawn as a gap.

import { STEP_METRICS, type StepMetricKey } from '../../core/events/stepMetrics';

export type RunViewStatus = 'starting' | 'queued' | 'running' | 'completed' | 'failed' | 'stopped' | 'unknown';

/**
 * Per-step metrics, one entry per `step` event, all arrays the same length: one column per metric of
 * the step-metric table, plus the step and the time.
 */
export type StepColumns = { [K in StepMetricKey]: (number | null)[] } & {
  step: number[];
  /** Unix seconds the engine wrote the event (for latency and ETA). */
  time: number[];
};

export interface EvalColumns {
  step: number[];
  loss: (number | null)[];
}

/** Where a tracker keeps the run (the engine's `tracker` event), shown as links in the run view. */
export interface TrackerLink {
  /** The tracker's --report-to name. */
  name: string;
  /** Its page for the run; the host opens only http(s) addresses. */
  url?: string;
  /** A folder where the engine runs: revealed for runs on this machine, shown for remote ones. */
  path?: string;
  /** The shell command that shows the run (copied to the clipboard). */
  command?: string;
}

export interface RunMeta {
  id: string;
  name: string;
  status: RunViewStatus;
  /** Planned steps from the start event's config, when known (ETA). */
  totalSteps?: number;
  /** Planner prediction of max_memory_allocated (bytes): the reference line on the memory chart. */
  predictedPeakBytes?: number;
  lastError?: { message: string; code?: string };
  device?: string;
  /** True when the run's folder is on this machine (its tracker folders can be revealed). */
  local?: boolean;
  trackers?: TrackerLink[];
}

export interface RunSnapshot {
  meta: RunMeta;
  steps: StepColumns;
  evals: EvalColumns;
}

/** The newest nvidia-smi reading of one GPU of a remote run's host. */
export interface GpuReading {
  host: string;
  gpu: number;
  utilizationPct: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  /** Unix seconds of the reading. */
  time: number;
}

export type HostToRunView =
  | { type: 'snapshot'; runs: RunSnapshot[] }
  | { type: 'append'; runId: string; steps: StepColumns; evals: EvalColumns }
  | { type: 'meta'; meta: RunMeta }
  | { type: 'remove'; runId: string }
  /** Replaces the run's GPU readings (one per host and GPU); remote runs whose hosts have nvidia-smi. */
  | { type: 'gpu'; runId: string; gpus: GpuReading[] };

export type RunViewToHost =
  | { type: 'ready' }
  | { type: 'stop'; runId: string }
  | { type: 'revealRun'; runId: string }
  /** A tracker link of the run: open its page, reveal its folder, or copy its command. */
  | { type: 'tracker'; runId: string; name: string; action: TrackerAction };

export const TRACKER_ACTIONS = ['open', 'reveal', 'copy'] as const;
export type TrackerAction = (typeof TRACKER_ACTIONS)[number];

export function emptyStepColumns(): StepColumns {
  const metrics = Object.fromEntries(STEP_METRICS.map((m) => [m.key, []])) as unknown as { [K in StepMetricKey]: (number | null)[] };
  return { ...metrics, step: [], time: [] };
}

export function emptyEvalColumns(): EvalColumns {
  return { step: [], loss: [] };
}

/**
 * What the run view page exposes as window.runviewDebug for the headless tests: time to redraw,
 * points drawn, when the last redraw finished.
 */
export interface RunViewDebug {
  lastRenderMs: number;
  /** ms from the last message's arrival to the end of the redraw that showed it. */
  lastMessageToDrawnMs: number;
  renders: number;
  points: number;
  lastRenderAt: number;
  /** Engine write → point in this page's arrays, and → drawn (ms; same-machine clocks; last 1000). */
  ingestLatencyMs: number[];
  drawnLatencyMs: number[];
}
