// Every per-step metric of the engine's `step` event, once: its name in the event stream, the name
// clients use, its unit, and where it is shown (a column of `sltrain attach`, a chart of the run view).
// A metric the engine starts to emit is one entry here; the decoder, the run model, the columns posted
// to the run view, the CLI table and the charts all follow this list.
import type { StepEvent } from './types';

export interface StepMetric {
  key: keyof StepEvent & string;
  /** The field in events.jsonl (the engine writes snake_case). */
  wire: string;
  label: string;
  unit?: 'bytes' | 's' | 'tokens' | 'tokens/s';
  /** A column of `sltrain attach`'s table: header, width, significant digits. */
  cli?: { header: string; width: number; digits?: number };
  /** The run view chart that draws it: loss and memory have their own (smoothing, the predicted peak). */
  chart?: { id: string; title: string; log?: boolean };
}

export const STEP_METRICS = [
  { key: 'loss', wire: 'loss', label: 'loss', cli: { header: 'loss', width: 10 }, chart: { id: 'loss', title: 'loss' } },
  { key: 'lr', wire: 'lr', label: 'learning rate', cli: { header: 'lr', width: 10, digits: 3 }, chart: { id: 'lr', title: 'learning rate' } },
  { key: 'gradNorm', wire: 'grad_norm', label: 'gradient norm', cli: { header: 'grad norm', width: 10, digits: 3 },
    chart: { id: 'gradNorm', title: 'gradient norm (before clipping)' } },
  { key: 'tokens', wire: 'tokens', label: 'tokens trained', unit: 'tokens' },
  { key: 'tokensPerS', wire: 'tokens_per_s', label: 'throughput', unit: 'tokens/s', cli: { header: 'tok/s', width: 10 },
    chart: { id: 'tokens', title: 'tokens / s' } },
  { key: 'stepTimeS', wire: 'step_time_s', label: 'step time', unit: 's' },
  { key: 'memAllocatedBytes', wire: 'mem_allocated_bytes', label: 'memory allocated', unit: 'bytes' },
  { key: 'memPeakBytes', wire: 'mem_peak_bytes', label: 'peak memory', unit: 'bytes', cli: { header: 'mem peak', width: 10 },
    chart: { id: 'memory', title: 'peak memory (GiB)' } },
  // Several processes only: rank 0 writes the events, the largest peak may be on another rank.
  { key: 'memPeakMaxRankBytes', wire: 'mem_peak_max_rank_bytes', label: 'peak memory of the fullest rank', unit: 'bytes',
    chart: { id: 'memoryRanks', title: 'peak memory of the fullest rank (bytes, several processes)' } },
] as const satisfies readonly StepMetric[];

export type StepMetricKey = (typeof STEP_METRICS)[number]['key'];

/** The run view's charts in display order (one per distinct chart id). */
export const STEP_CHARTS: ReadonlyArray<{ id: string; title: string; metric: StepMetricKey }> = STEP_METRICS.flatMap(
  (m: StepMetric) => (m.chart ? [{ id: m.chart.id, title: m.chart.title, metric: m.key as StepMetricKey }] : []),
);
