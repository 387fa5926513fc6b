// The planner's entry points: parameter counts, the papers' estimate, the real peak and the fit.
import { defaultsFor, PRESETS, type ModelConfig } from '../modelConfig';
import { shardingProblem } from '../runSchema';
import { activations } from './activations';
import { paperEstimate } from './estimate';
import { plannerMethod } from './methods';
import { runFromPlan } from './run';
import { peakMemory, staticPeakParts, type StaticPeakParts } from './peak';
import { rankStaticBytes } from './sharding';
import { staticBytes } from './staticBytes';
import { modelTensors } from './tensors';
import { METHODS, type Fit, type ParamCounts, type PlanOptions, type PlanResult } from './types';

export const GB = 1e9;
export const GiB = 1024 ** 3;

/** Papers' defaults (seq 256, bf16, AdamW) and the preset's rank/delta/alpha, then the overrides. */
export function defaultPlanOptions(config: ModelConfig, overrides: Partial<PlanOptions> = {}): PlanOptions {
  const d = defaultsFor(config);
  const preset = PRESETS.find((p) => p.name === config.name);
  // An explicit rank applies to GaLore too; otherwise GaLore keeps its scripts' rank and gap.
  const galoreRank = overrides.rank ?? preset?.galoreRank ?? d.rank;
  return {
    method: 'sltrain',
    rank: d.rank,
    delta: d.delta,
    alpha: d.alpha,
    galoreRank,
    galoreUpdateGap: config.name === 'llama_7b' ? 500 : 200,
    galoreScale: 0.25,
    supportUpdateEvery: 0,
    supportUpdateFraction: 0.1,
    optimizer: 'adamw',
    perLayer: false,
    precision: 'bf16',
    microBatch: 1,
    seqLen: 256,
    gradAccum: 1,
    gradCkpt: false,
    gpus: 1,
    sharding: 'ddp',
    indexDtype: 'auto',
    gpuMemoryBytes: 80 * GB,
    hopper: false,
    ...overrides,
  };
}

export function countParams(config: ModelConfig, o: PlanOptions): ParamCounts {
  const counts: ParamCounts = { total: 0, trainable: 0, sparseNonzeros: 0, frozen: 0, components: {} };
  for (const t of modelTensors(config, o)) {
    if (t.role === 'index') continue;
    const comp = (counts.components[t.component] ??= { total: 0, trainable: 0 });
    comp.total += t.numel;
    counts.total += t.numel;
    if (t.trainable) {
      comp.trainable += t.numel;
      counts.trainable += t.numel;
    } else {
      counts.frozen += t.numel;
    }
    if (t.name.endsWith('.values')) counts.sparseNonzeros += t.numel;
  }
  return counts;
}

/** Largest micro-batch whose peak fits: peak grows monotonically with the batch, so bisect. */
function maxMicroBatch(config: ModelConfig, o: PlanOptions, parts: StaticPeakParts): number {
  const fits = (b: number): boolean => peakMemory(config, { ...o, microBatch: b }, parts).bytes <= o.gpuMemoryBytes;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= 1 << 20 && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function plan(config: ModelConfig, options: PlanOptions): PlanResult {
  const params = countParams(config, options);
  const st = staticBytes(config, options);
  const act = activations(config, options);
  const parts = staticPeakParts(config, options, st);
  const peak = peakMemory(config, options, parts);
  const fits = peak.bytes <= options.gpuMemoryBytes;
  const fit: Fit = { gpuMemoryBytes: options.gpuMemoryBytes, fits, maxMicroBatch: maxMicroBatch(config, options, parts) };
  const suggest = plannerMethod(options.method).suggestFit;
  if (!fits && suggest) {
    const suggestion = suggest(options, options.gpuMemoryBytes, (o) => peakMemory(config, o).bytes);
    if (suggestion) fit.suggestion = suggestion;
  }
  const launchProblem = shardingProblem(options.gpus, options.sharding);
  return {
    model: config.name,
    method: options.method,
    options,
    params,
    estimate: paperEstimate(config, options, params),
    staticBytes: st.exact,
    staticBytesPerRank: rankStaticBytes(config, options),
    largestGradientBytes: st.largestGradExact,
    activations: { savedBytes: act.saved, perLayerBytes: act.perLayer, logitsBytes: act.forwardTransient },
    peak,
    fits: fit,
    run: runFromPlan(config.name, options),
    ...(launchProblem ? { launchProblem } : {}),
  };
}

/** The five methods side by side with the same options. */
export function planAll(config: ModelConfig, options: PlanOptions): PlanResult[] {
  return METHODS.map((method) => plan(config, { ...options, method }));
}
