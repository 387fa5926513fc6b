import { choicesOf } from '../runSchema';
import type { RunSpec } from '../runSpec.generated';

// Planner inputs and outputs. These shapes are the `sltrain plan --json` contract (docs/contracts.md): the CLI
// prints them as they are and the planner panel renders them, so add fields, never rename.

// Method, optimizer, precision, index-layout and sharding names come from the engine's run schema,
// so the planner can never offer a choice the engine does not know.
export type Method = NonNullable<RunSpec['method']>;
export const METHODS = choicesOf('method') as readonly Method[];
export type Optimizer = NonNullable<RunSpec['optimizer']>;
/** bf16: pure bf16 params/grads/states (the papers); mixed: fp32 master weights + bf16 autocast; fp32. */
export type Precision = NonNullable<RunSpec['precision']>;
export type Sharding = NonNullable<RunSpec['sharding']>;
/** SLTrain support storage: int16 is CSR (2 B per nonzero + a row offset per row); int32/int64 flat; auto as the engine picks. */
export type IndexDtype = NonNullable<RunSpec['index_dtype']>;

export interface PlanOptions {
  method: Method;
  rank: number;
  /** GaLore's projection rank (its scripts use 1024 at 1B); defaults to `rank`. */
  galoreRank?: number;
  delta: number;
  alpha: number;
  /** GaLore projector refresh period (steps); it changes the peak only on refresh steps (SVD workspace). */
  galoreUpdateGap: number;
  galoreScale: number;
  /** SLTrain dynamic support: updates between support updates (0: fixed support). */
  supportUpdateEvery: number;
  /** SLTrain dynamic support: fraction of each layer's support replaced at an update. */
  supportUpdateFraction: number;
  optimizer: Optimizer;
  perLayer: boolean;
  precision: Precision;
  microBatch: number;
  seqLen: number;
  gradAccum: number;
  gradCkpt: boolean;
  gpus: number;
  sharding: Sharding;
  indexDtype: IndexDtype;
  /** Usable GPU memory in bytes (max_memory_allocated must stay under it). */
  gpuMemoryBytes: number;
  /** cuBLAS workspace per handle: 32 MiB on Hopper (H100/H200), 8.125 MiB (4 MiB + 4·1 MiB + 8 KiB...) elsewhere. */
  hopper: boolean;
}

/** Parameter counts, per component. */
export interface ParamCounts {
  total: number;
  trainable: number;
  sparseNonzeros: number;
  /** Frozen parameters (ReLoRA's full weights). */
  frozen: number;
  components: Record<string, { total: number; trainable: number }>;
}

/** The papers' convention (docs/memory.md §1): bf16 weights + optimizer states, int64 indices, 1 G = 1e9 B. */
export interface Estimate {
  weightsBytes: number;
  optimizerBytes: number;
  totalBytes: number;
}

export type PeakPhase = 'forward' | 'backward' | 'optimizer';

export interface PeakItem {
  key: string;
  label: string;
  bytes: number;
}

/** What torch.cuda.max_memory_allocated reports for one training step of the bundled engine. */
export interface Peak {
  bytes: number;
  phase: PeakPhase;
  /** Sums exactly to `bytes`. */
  breakdown: PeakItem[];
  /** The same breakdown at each candidate phase, for the curious. */
  phases: Record<PeakPhase, number>;
}

/** Exact static tensor bytes on one GPU (what the engine's `measure` reports to the byte). */
export interface StaticBytes {
  weights: number;
  gradients: number;
  optimizerStates: number;
  indices: number;
  projectors: number;
  buffers: number;
}

export interface Fit {
  gpuMemoryBytes: number;
  fits: boolean;
  /** Largest micro-batch whose peak fits (0 when even batch 1 does not). */
  maxMicroBatch: number;
  /** For SLTrain when it does not fit: the largest rank/delta (from a small ladder) that fits, if any. */
  suggestion?: { rank: number; delta: number; peakBytes: number };
}

export interface PlanResult {
  model: string;
  method: Method;
  options: PlanOptions;
  params: ParamCounts;
  estimate: Estimate;
  staticBytes: StaticBytes;
  /** Exact long-lived bytes on each of the `gpus` ranks under `sharding` (the engine's measure under torchrun). */
  staticBytesPerRank: StaticBytes[];
  /** The largest single gradient, exact (per-layer updates keep about one alive at a time). */
  largestGradientBytes: number;
  activations: { savedBytes: number; perLayerBytes: number; logitsBytes: number };
  peak: Peak;
  fits: Fit;
  /** The engine run file for exactly this plan: what `python -m sltrain.train --config` takes. */
  run: RunSpec;
  /** Why this plan cannot be launched as planned yet, naming the option; absent when it can. */
  launchProblem?: string;
}
