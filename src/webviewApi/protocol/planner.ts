// The planner panel's message protocol, imported by both the extension host and the page so that a
// renamed field fails to compile on both sides. The host plans; the page only renders what it is sent.
import type { FitChange } from '../../core/planner/fitChanges';
import type { MeasuredTimeline } from '../../core/planner/measuredTimeline';
import type { Timeline } from '../../core/planner/timeline';
import type { PlanOptions, PlanResult } from '../../core/planner/types';

export const PLANNER_VIEW_TYPE = 'sltrain.planner';

/** One problem with the config being planned (same shape as the core's ConfigProblem). */
export interface ProblemView {
  field?: string;
  /** 1-based, for JSON syntax errors. */
  line?: number;
  column?: number;
  message: string;
}

/** Where the model config comes from: a file (followed live as it is edited) or a bundled preset. */
export type PlannerSource =
  | { kind: 'file'; uri: string; label: string }
  | { kind: 'preset'; preset: string; label: string };

export type ChartMode = 'estimate' | 'peak';

/**
 * Everything the page shows, sent whole on every change: a page that was hidden, reloaded or just
 * created renders from one message and never has to merge partial updates.
 */
export interface PlannerSnapshot {
  source: PlannerSource;
  options: PlanOptions;
  /** The options the user changed; the others follow the config's defaults (persisted for a reload). */
  overrides: Partial<PlanOptions>;
  /** The last results that planned successfully, one per method; empty until the first success. */
  results: PlanResult[];
  /** True when `problems` is non-empty and `results` belong to an earlier version of the config. */
  stale: boolean;
  problems: ProblemView[];
  gpus: GpuChoice[];
  /**
   * "Launch with these settings": hidden while no `sltrain.launch` command is registered, disabled (with
   * the reason as its tooltip) when it exists but cannot run here, e.g. in an untrusted workspace.
   */
  launch: { state: 'hidden' | 'disabled' | 'enabled'; reason?: string };
  /** The selected method's step, event by event (the peak is its maximum); absent before a plan. */
  timeline?: Timeline;
  /** When the selected method does not fit: single changes, those that fit first, each with its peak. */
  changes: FitChange[];
  /** "Measure here": the engine's measured timeline of the selected plan on this machine. */
  measured: MeasuredView;
}

export type MeasuredView =
  | { state: 'none' }
  | { state: 'running'; where: string }
  /** `forKey` says which plan it measured, so a stale measurement is not drawn over a new plan. */
  | { state: 'done'; where: string; forKey: string; timeline: MeasuredTimeline }
  | { state: 'failed'; where: string; message: string };

/** What a measurement depends on: the method's own run file (the engine options the plan decided). */
export function measureKey(run: unknown): string {
  return JSON.stringify(run);
}

export type HostToPage = { type: 'snapshot'; snapshot: PlannerSnapshot };

export type PageToHost =
  /** Sent once the page has registered its message listener; the host posts nothing before it. */
  | { type: 'ready' }
  | { type: 'setOptions'; options: Partial<PlanOptions> }
  | { type: 'launch' }
  | { type: 'pickConfig' }
  | { type: 'revealProblem'; line: number; column: number }
  /** Run the engine's measured timeline of the selected plan here. */
  | { type: 'measure' };

/** What the page persists with setState, and what the host receives back after a window reload. */
export interface PlannerPageState {
  source: PlannerSource;
  overrides: Partial<PlanOptions>;
  chartMode: ChartMode;
}

/** A GPU the panel offers (the host fills these from the core's GPU table). */
export interface GpuChoice {
  id: string;
  label: string;
  /** Usable allocator bytes, as `sltrain plan --gpu ID` sets gpuMemoryBytes. */
  bytes: number;
  hopper: boolean;
}

/** 1 GB = 1e9 bytes, as `sltrain plan --gpu-memory GB` counts: the panel's custom size and its display unit. */
export const GB = 1e9;

export function isPageToHost(value: unknown): value is PageToHost {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'setOptions' || type === 'launch' || type === 'pickConfig' || type === 'revealProblem'
    || type === 'measure';
}

/** What the planner page exposes as window.plannerDebug for the headless tests. */
export interface PlannerDebug {
  /** The timeline's point for event `i`, in CSS pixels from the canvas's top left. */
  timelinePoint(i: number): { x: number; y: number };
  /** The title lines of the timeline's tooltip now on show (empty when none). */
  timelineTooltip(): string[];
  /** Each timeline series' label and its number of drawn (non-missing) points. */
  timelineSeries(): Array<[string, number]>;
}
