// What `sltrain.launch` accepts from the planner ("Launch with these settings") and how it becomes
// engine flags. Pure: the extension asks the user for the rest (steps, data, output directory).

export interface LaunchOptions {
  /** Preset name or path to a Hugging Face config.json. */
  model?: string;
  method?: string;
  rank?: number;
  delta?: number;
  alpha?: number;
  optimizer?: string;
  perLayer?: boolean;
  precision?: string;
  microBatch?: number;
  seqLen?: number;
  gradAccum?: number;
  gradCkpt?: boolean;
  /** Planner prediction of the peak (bytes), drawn as the reference line. */
  predictedPeakBytes?: number;
}

export interface RunSpecChoices {
  steps: number;
  /** `embedded`, a path, or `hf:NAME` (engine --data). */
  data: string;
}

const NUMBER_KEYS = ['rank', 'delta', 'alpha', 'microBatch', 'seqLen', 'gradAccum', 'predictedPeakBytes'] as const;
const STRING_KEYS = ['model', 'method', 'optimizer', 'precision'] as const;
const BOOL_KEYS = ['perLayer', 'gradCkpt'] as const;

/**
 * Accepts the flat shape or the planner's `{ model, options: PlanOptions, predictedPeakBytes }`;
 * fields of the wrong type are dropped (a command argument is untrusted input).
 */
export function parseLaunchOptions(arg: unknown): LaunchOptions {
  if (typeof arg !== 'object' || arg === null) return {};
  const top = arg as Record<string, unknown>;
  const nested = typeof top.options === 'object' && top.options !== null ? (top.options as Record<string, unknown>) : {};
  const src: Record<string, unknown> = { ...nested, ...top };
  const out: LaunchOptions = {};
  for (const k of NUMBER_KEYS) if (typeof src[k] === 'number' && Number.isFinite(src[k])) out[k] = src[k] as number;
  for (const k of STRING_KEYS) if (typeof src[k] === 'string' && src[k] !== '') out[k] = src[k] as string;
  for (const k of BOOL_KEYS) if (typeof src[k] === 'boolean') out[k] = src[k] as boolean;
  return out;
}

/** `python -m sltrain.train` flags for the options and the confirmed run spec. */
export function engineArgsFor(o: LaunchOptions, spec: RunSpecChoices): string[] {
  const args: string[] = ['--model', o.model ?? 'llama_tiny'];
  const flag = (name: string, v: string | number | undefined): void => {
    if (v !== undefined) args.push(`--${name}`, String(v));
  };
  flag('method', o.method);
  flag('rank', o.rank);
  flag('delta', o.delta);
  flag('alpha', o.alpha);
  flag('optimizer', o.optimizer);
  flag('precision', o.precision);
  flag('batch-size', o.microBatch);
  flag('grad-accum', o.gradAccum);
  flag('seq-len', o.seqLen);
  if (o.perLayer !== undefined) args.push(o.perLayer ? '--per-layer' : '--no-per-layer');
  if (o.gradCkpt !== undefined) args.push(o.gradCkpt ? '--grad-ckpt' : '--no-grad-ckpt');
  flag('steps', spec.steps);
  flag('data', spec.data);
  return args;
}

/** A short name for the run list: "llama_60m sltrain r=128". */
export function runNameFor(o: LaunchOptions): string {
  const model = (o.model ?? 'llama_tiny').split('/').pop()?.replace(/\.json$/, '') ?? 'run';
  return [model, o.method, o.rank !== undefined && o.method !== 'full' ? `r=${o.rank}` : undefined].filter(Boolean).join(' ');
}
