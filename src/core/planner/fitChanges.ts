// What to change when a plan does not fit: single edits of the options the planner models, each
// planned for real, kept when the planner accepts it (a combination the engine refuses is not offered),
// those that fit first, then by the peak they give.
import type { ModelConfig } from '../modelConfig';
import { flagOfPlanKey } from '../runSchema';
import { plannerMethod } from './methods';
import { peakMemory } from './peak';
import type { PlanOptions } from './types';
import { validatePlanOptions } from './validate';

export interface FitChange {
  /** What to do, in the engine's flag names: `--grad-ckpt`, `--batch-size 4`... */
  label: string;
  /** The edit, to apply as it is. */
  options: Partial<PlanOptions>;
  peakBytes: number;
  fits: boolean;
}

/** The largest micro-batch (a power of two below the current one, or 1) that fits, if any. */
function smallerBatches(o: PlanOptions): number[] {
  const out: number[] = [];
  for (let b = o.microBatch >> 1; b >= 1; b >>= 1) out.push(b);
  return out;
}

function candidates(o: PlanOptions): Array<{ label: string; options: Partial<PlanOptions> }> {
  const flag = flagOfPlanKey;
  const list: Array<{ label: string; options: Partial<PlanOptions> }> = [];
  for (const b of smallerBatches(o)) {
    // Keep the tokens per step: fewer sequences per micro-batch, more accumulation steps.
    const accum = Math.ceil((o.microBatch * o.gradAccum) / b);
    list.push({ label: `${flag('microBatch')} ${b} ${flag('gradAccum')} ${accum}`, options: { microBatch: b, gradAccum: accum } });
  }
  if (!o.gradCkpt) list.push({ label: flag('gradCkpt'), options: { gradCkpt: true } });
  if (!o.perLayer && o.gpus === 1) list.push({ label: flag('perLayer'), options: { perLayer: true } });
  if (o.optimizer !== 'adam8bit') list.push({ label: `${flag('optimizer')} adam8bit`, options: { optimizer: 'adam8bit' } });
  if (plannerMethod(o.method).usesRank) {
    for (const rank of [o.rank >> 1, o.rank >> 2]) {
      if (rank >= 8) list.push({ label: `${flag('rank')} ${rank}`, options: { rank } });
    }
  }
  if (o.method === 'sltrain') {
    const delta = Math.round(o.delta * 50) / 100;
    if (delta > 0) list.push({ label: `${flag('delta')} ${delta}`, options: { delta } });
  }
  if (o.gpus > 1) {
    for (const sharding of ['zero1', 'zero2', 'zero3'] as const) {
      if (sharding !== o.sharding) list.push({ label: `${flag('sharding')} ${sharding}`, options: { sharding } });
    }
  }
  return list;
}

/** Up to `limit` changes; those that fit first (smallest peak first within each group). */
export function fitChanges(c: ModelConfig, o: PlanOptions, limit = 6): FitChange[] {
  const out: FitChange[] = [];
  for (const cand of candidates(o)) {
    const next = { ...o, ...cand.options };
    if (validatePlanOptions(c, next).length > 0) continue;
    const peakBytes = peakMemory(c, next).bytes;
    out.push({ ...cand, peakBytes, fits: peakBytes <= o.gpuMemoryBytes });
  }
  // Of the micro-batch edits only the largest that fits matters (and the smallest, when none does).
  const batches = out.filter((x) => x.options.microBatch !== undefined);
  const keepBatch = batches.find((x) => x.fits) ?? batches.at(-1);
  return out.filter((x) => x.options.microBatch === undefined || x === keepBatch)
    .sort((a, b) => Number(b.fits) - Number(a.fits) || a.peakBytes - b.peakBytes)
    .slice(0, limit);
}
