// The page's own copy of every run's points. Chart.js decimation replaces `dataset.data` with a
// decimated copy and a later push() into it is lost (Chart.js #11929), so the raw arrays live here and
// datasets only ever reference them; points are pushed here and the chart is told to redraw.
import { STEP_CHARTS } from '../../src/core/events/stepMetrics';
import type { EvalColumns, RunMeta, StepColumns } from '../../src/webviewApi/protocol/runview';

/** Charts drawn as one plain line per run; loss (smoothing, eval points) and memory (GiB, the
 * predicted peak) are drawn by their own code. */
export const PLAIN_CHARTS = STEP_CHARTS.filter((c) => c.id !== 'loss' && c.id !== 'memory');

export const GIB = 2 ** 30;

export interface Pt {
  x: number;
  y: number | null;
}

export interface RunSeries {
  meta: RunMeta;
  loss: Pt[];
  /** Exponential moving average of `loss` for the current smoothing weight. */
  lossSmooth: Pt[];
  evalLoss: Pt[];
  /** One series per plainly drawn metric (learning rate, gradient norm, tokens/s: PLAIN_CHARTS). */
  plain: Record<string, Pt[]>;
  /** Measured peak memory in GiB (plotted in GiB so the axis gets round ticks). */
  memPeak: Pt[];
  /** The predicted-peak reference line (two points, refreshed as steps arrive). */
  memRef: Pt[];
  /** Recent step times (s), for the ETA. */
  stepTimes: number[];
  lastStep: number;
  /** EMA state: the last smoothed value and the debias weight, so appends continue the curve. */
  ema: { value: number; weight: number };
}

export function newSeries(meta: RunMeta): RunSeries {
  return {
    meta, loss: [], lossSmooth: [], evalLoss: [], plain: Object.fromEntries(PLAIN_CHARTS.map((c) => [c.metric, []])),
    memPeak: [], memRef: [], stepTimes: [], lastStep: -1,
    ema: { value: 0, weight: 0 },
  };
}

/** Debiased EMA (as TensorBoard): smoothing 0 = raw, 0.99 = very smooth. Gaps stay gaps. */
function smoothInto(s: RunSeries, from: number, smoothing: number): void {
  for (let i = from; i < s.loss.length; i++) {
    const p = s.loss[i];
    if (p.y === null) {
      s.lossSmooth.push({ x: p.x, y: null });
      continue;
    }
    s.ema.value = smoothing * s.ema.value + (1 - smoothing) * p.y;
    s.ema.weight = smoothing * s.ema.weight + (1 - smoothing);
    s.lossSmooth.push({ x: p.x, y: s.ema.weight > 0 ? s.ema.value / s.ema.weight : p.y });
  }
}

export function resmooth(s: RunSeries, smoothing: number): void {
  s.lossSmooth.length = 0;
  s.ema = { value: 0, weight: 0 };
  smoothInto(s, 0, smoothing);
}

const MAX_STEP_TIMES = 50;

/** Appends columns; points at or before the last step are dropped (a replayed snapshot overlap). */
export function appendColumns(s: RunSeries, steps: StepColumns, evals: EvalColumns, smoothing: number): number {
  const from = s.loss.length;
  let added = 0;
  for (let i = 0; i < steps.step.length; i++) {
    const x = steps.step[i];
    if (x <= s.lastStep) continue;
    s.lastStep = x;
    s.loss.push({ x, y: steps.loss[i] });
    // A metric missing from an older engine's events is a gap, never a zero.
    for (const c of PLAIN_CHARTS) s.plain[c.metric].push({ x, y: steps[c.metric][i] ?? null });
    const mem = steps.memPeakBytes[i];
    s.memPeak.push({ x, y: mem === null ? null : mem / GIB });
    const t = steps.stepTimeS[i];
    if (t !== null) s.stepTimes.push(t);
    added++;
  }
  if (s.stepTimes.length > MAX_STEP_TIMES * 2) s.stepTimes.splice(0, s.stepTimes.length - MAX_STEP_TIMES);
  smoothInto(s, from, smoothing);
  for (let i = 0; i < evals.step.length; i++) s.evalLoss.push({ x: evals.step[i], y: evals.loss[i] });
  return added;
}

/** Seconds left, from the mean of recent step times; undefined when unknown or finished. */
export function etaSeconds(s: RunSeries): number | undefined {
  const total = s.meta.totalSteps;
  if (total === undefined || s.meta.status !== 'running' || s.lastStep < 0) return undefined;
  const recent = s.stepTimes.slice(-MAX_STEP_TIMES);
  if (recent.length === 0) return undefined;
  const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
  return Math.max(0, total - s.lastStep) * mean;
}
