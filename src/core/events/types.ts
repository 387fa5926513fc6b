// Typed engine events: one JSON object per line of OUT/events.jsonl (docs/contracts.md, "Events").
// The engine writes a non-finite number (a diverged loss) as null, since JSON has no NaN; the parser
// also accepts NaN/Infinity literals from other writers.

export type EndStatus = 'completed' | 'failed' | 'stopped';

interface EventBase {
  /** Schema version; 1 today. Newer versions are parsed with the same rules (fields are only added). */
  v: number;
  /** Unix seconds (float) when the engine wrote the event. */
  time: number;
  rank: number;
}

export interface StartEvent extends EventBase {
  event: 'start';
  /** The resolved engine config (steps, method, model, ...), as the engine logged it. */
  config: Record<string, unknown>;
  device?: string;
  worldSize?: number;
  params?: Record<string, unknown>;
}

export interface StepEvent extends EventBase {
  event: 'step';
  step: number;
  loss: number;
  lr?: number;
  gradNorm?: number;
  tokens?: number;
  tokensPerS?: number;
  stepTimeS?: number;
  memAllocatedBytes?: number;
  memPeakBytes?: number;
  /** Runs of several processes: the largest peak over the ranks. */
  memPeakMaxRankBytes?: number;
}

export interface EvalEvent extends EventBase {
  event: 'eval';
  step: number;
  loss: number;
  ppl?: number;
}

export interface CheckpointEvent extends EventBase {
  event: 'checkpoint';
  step: number;
  path: string;
}

export interface MessageEvent extends EventBase {
  event: 'warning' | 'error';
  message: string;
  /** Machine-readable reason, e.g. "diverged" for NaN/inf loss. */
  code?: string;
}

/** Where a tracker (--report-to) keeps this run: sent once per tracker when it opens. */
export interface TrackerEvent extends EventBase {
  event: 'tracker';
  /** The tracker's --report-to name. */
  name: string;
  /** The run's page (W&B online, an MLflow server). */
  url?: string;
  /** A folder on the machine that runs the engine (TensorBoard logs, W&B offline run, MLflow file store). */
  path?: string;
  /** The shell command that shows or uploads the run there (e.g. `tensorboard --logdir PATH`). */
  command?: string;
}

export interface EndEvent extends EventBase {
  event: 'end';
  status: EndStatus;
  step?: number;
}

/** An event type this client does not know (a newer engine): kept whole so nothing is silently lost. */
export interface UnknownEvent extends EventBase {
  event: 'unknown';
  name: string;
  raw: Record<string, unknown>;
}

export type EngineEvent = StartEvent | StepEvent | EvalEvent | CheckpointEvent | MessageEvent | TrackerEvent | EndEvent | UnknownEvent;

/** What the parser did with every line it saw; skipped lines are counted, never thrown. */
export interface ParseStats {
  lines: number;
  events: number;
  blank: number;
  /** Not JSON, or JSON that is not an object. */
  garbage: number;
  /** Known event with missing or wrongly typed fields. */
  invalid: number;
  /** Longer than the cap; skipped up to the next newline. */
  tooLong: number;
  /** Valid envelope, unknown `event` name (emitted as UnknownEvent). */
  unknown: number;
}

/** A line the parser skipped; `offset` counts from where that parser started reading. */
export interface SkippedLine {
  offset: number;
  /** Including its newline; for `tooLong`, the bytes seen when the line went over the limit. */
  bytes: number;
  reason: 'tooLong' | 'garbage' | 'invalid';
}
