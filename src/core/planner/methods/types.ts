// What the planner needs to know about one training method. Each method is one module in this folder,
// registered by name in ./index.ts; the planner calls these hooks and never branches on a method name.
import type { ModelConfig } from '../../modelConfig';
import type { LinearShape, MethodShape, TensorSpec } from '../shapes';
import type { Fit, ParamCounts, PlanOptions } from '../types';

export interface PaperBytes {
  weightsBytes: number;
  optimizerBytes: number;
}

export interface PlannerMethod {
  /** The method has factors of rank r (all but full rank; GaLore's rank is its projection's). */
  usesRank: boolean;
  /** Problems with the method's own options, each naming the option and the fix. */
  problems?(c: ModelConfig, o: PlanOptions): string[];
  /** The tensors one decoder-block linear becomes, in the engine's registration order. */
  linearTensors(prefix: string, l: LinearShape, m: MethodShape): TensorSpec[];
  /**
   * The papers' estimate (docs/memory.md §1). `stateBytes` is the bytes of Adam's two moments per
   * trainable element (2 · 2 B in bf16, 2 · 1 B with 8-bit Adam).
   */
  paperEstimate(c: ModelConfig, o: PlanOptions, params: ParamCounts, stateBytes: number): PaperBytes;
  /** Elements of one linear that bf16 autocast casts once per forward and keeps for backward. */
  autocastCachedElements(l: LinearShape, rank: number): number;
  /** Activation elements per token one linear saves beyond its input (ReLoRA: the rank-r intermediate). */
  extraSavedPerToken(rank: number): number;
  /** Transient bytes of the optimizer step beyond the states (GaLore: a full-size update, the SVD). */
  stepTemporaryBytes(c: ModelConfig, o: PlanOptions): number;
  /** The rank the engine must be given to train what was planned, when it is not `o.rank`. */
  engineRank?(o: PlanOptions): number;
  /** What would fit when the plan does not; `peakOf` plans the same model with other options. */
  suggestFit?(o: PlanOptions, gpuBytes: number, peakOf: (o: PlanOptions) => number): Fit['suggestion'];
}
