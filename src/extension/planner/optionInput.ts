// Options from the page are input like any other: keep only known keys with values of the right
// type, and phrase the planner's option problems with the panel's labels instead of CLI flags.
import { METHODS, type PlanOptions } from '../../core/planner/types';
import { choicesOf } from '../../core/runSchema';

const NUMBER_KEYS = ['rank', 'delta', 'alpha', 'galoreUpdateGap', 'galoreScale', 'supportUpdateEvery', 'supportUpdateFraction', 'microBatch', 'seqLen', 'gradAccum', 'gpus', 'gpuMemoryBytes'] as const;
const BOOLEAN_KEYS = ['perLayer', 'gradCkpt', 'hopper'] as const;
const CHOICES: Record<string, readonly string[]> = {
  method: METHODS,
  optimizer: choicesOf('optimizer'),
  precision: choicesOf('precision'),
  indexDtype: choicesOf('index_dtype'),
  sharding: choicesOf('sharding'),
};

export function sanitizeOptions(raw: unknown): Partial<PlanOptions> {
  if (typeof raw !== 'object' || raw === null) return {};
  const src = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of NUMBER_KEYS) if (typeof src[k] === 'number' && Number.isFinite(src[k])) out[k] = src[k];
  for (const k of BOOLEAN_KEYS) if (typeof src[k] === 'boolean') out[k] = src[k];
  for (const [k, allowed] of Object.entries(CHOICES)) {
    const v = src[k];
    if (typeof v === 'string' && allowed.includes(v)) out[k] = v;
  }
  return out as Partial<PlanOptions>;
}

const FLAG_LABELS: ReadonlyArray<[RegExp, string]> = [
  [/--rank\b/g, 'Rank r'],
  [/--delta\b/g, 'Sparsity δ'],
  [/--alpha\b/g, 'Scale α'],
  [/--batch-size\b/g, 'Micro-batch'],
  [/--seq-len\b/g, 'Sequence length'],
  [/--grad-accum\b/g, 'Gradient accumulation'],
  [/--gpus\b/g, 'GPUs'],
  [/--galore-update-gap\b/g, 'GaLore update gap'],
  [/--support-update-every\b/g, 'Support update every'],
  [/--support-update-fraction\b/g, 'Support update fraction'],
  [/--gpu-memory\b/g, 'GPU memory'],
  [/--per-layer\b/g, 'Per-layer updates'],
];

/** "--rank 600 is above …; use --rank 512 or less." → "Rank r 600 is above …; use Rank r 512 or less." */
export function withPanelLabels(message: string): string {
  return FLAG_LABELS.reduce((m, [flag, label]) => m.replace(flag, label), message);
}
