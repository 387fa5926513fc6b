// Human output of `sltrain plan`: aligned tables with units spelled out.
import type { PlanResult } from '../core/planner/types';
import { alignTable, formatBytes, formatCount, formatGB, formatGiB } from '../core/units';

function header(r: PlanResult): string {
  const o = r.options;
  const opt = [
    `rank ${o.rank}`, `delta ${o.delta}`, `alpha ${o.alpha}`, o.optimizer, o.precision,
    `micro-batch ${o.microBatch} x seq ${o.seqLen}`,
    o.gradAccum > 1 ? `grad-accum ${o.gradAccum}` : '', o.perLayer ? 'per-layer updates' : '',
    o.gradCkpt ? 'grad checkpointing' : '', o.gpus > 1 ? `${o.gpus} GPUs (${o.sharding})` : '',
    `index ${o.indexDtype}`, `GPU budget ${formatGB(o.gpuMemoryBytes)}`,
  ].filter(Boolean);
  return `${r.model}: ${opt.join(', ')}`;
}

function fitCell(r: PlanResult): string {
  return r.fits.fits ? 'yes' : 'NO';
}

const ROWS: Array<[string, (r: PlanResult) => string]> = [
  ['params total', (r) => formatCount(r.params.total)],
  ['params trainable', (r) => formatCount(r.params.trainable)],
  ['sparse nonzeros', (r) => formatCount(r.params.sparseNonzeros)],
  ["papers' estimate: weights", (r) => formatGB(r.estimate.weightsBytes)],
  ["papers' estimate: optimizer", (r) => formatGB(r.estimate.optimizerBytes)],
  ["papers' estimate: total", (r) => formatGB(r.estimate.totalBytes)],
  ['peak (max_memory_allocated)', (r) => formatGB(r.peak.bytes)],
  ['peak in GiB', (r) => formatGiB(r.peak.bytes)],
  ['peak phase', (r) => r.peak.phase],
  ['fits', fitCell],
  ['largest micro-batch', (r) => String(r.fits.maxMicroBatch)],
];

/** The five methods side by side. */
export function renderComparison(results: PlanResult[]): string {
  const rows = [['', ...results.map((r) => r.method)], ...ROWS.map(([label, f]) => [label, ...results.map(f)])];
  return `${header(results[0])}\n${alignTable(rows)}`;
}

/** One method, with the full peak breakdown. */
export function renderSingle(r: PlanResult): string {
  const main = ROWS.map(([label, f]) => [label, f(r)]);
  const breakdown = r.peak.breakdown.map((i) => [`  ${i.label}`, formatBytes(i.bytes)]);
  const lines = [header(r), `method ${r.method}`, alignTable([...main, [`peak breakdown (${r.peak.phase})`, ''], ...breakdown])];
  if (r.fits.suggestion) {
    const s = r.fits.suggestion;
    lines.push(`does not fit: rank ${s.rank}, delta ${s.delta} would (peak ${formatGB(s.peakBytes)}).`);
  }
  return lines.join('\n');
}
