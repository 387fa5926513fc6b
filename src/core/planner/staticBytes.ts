// Exact bytes of the tensors that live for the whole run: weights, gradients, optimizer states,
// SLTrain indices and GaLore projectors. Each number is a sum over modelTensors(), so it matches the
// engine's `measure` (which walks the real tensors) to the byte.
import type { ModelConfig } from '../modelConfig';
import { galoreShapes, paramElementBytes, roundBlock, type TensorSpec } from './shapes';
import { modelTensors } from './tensors';
import type { PlanOptions, StaticBytes } from './types';

export { ALLOCATOR_BLOCK, galoreShapes, paramElementBytes, roundBlock } from './shapes';

/** bitsandbytes 8-bit Adam: blockwise quantised states for tensors of at least 4096 elements. */
export const BNB_MIN_8BIT_SIZE = 4096;
export const BNB_BLOCK = 256;

/** One entry per optimizer state tensor of a parameter: [bytes, isProjector]. */
export function optimizerStateTensors(t: TensorSpec, o: PlanOptions): Array<[number, boolean]> {
  const p = paramElementBytes(o);
  const step: [number, boolean] = [4, false]; // torch keeps `step` as a float32 scalar tensor
  if (t.galoreMatrix) {
    const g = galoreShapes(t.galoreMatrix.m, t.galoreMatrix.n, o.galoreRank ?? o.rank);
    // 8-bit GaLore keeps a low-rank buffer per matrix that an inner bitsandbytes AdamW steps.
    if (o.optimizer === 'adam8bit') return [step, [g.moment * p, false], ...adam8bitStates(g.moment), [g.projector * p, true]];
    return [step, [g.moment * p, false], [g.moment * p, false], [g.projector * p, true]];
  }
  if (t.apolloMatrix) {
    // APOLLO: low-rank moments, the seeded random projection and the norm limiter's 0-dim tensor.
    const g = galoreShapes(t.apolloMatrix.m, t.apolloMatrix.n, t.apolloMatrix.rank);
    return [step, [g.moment * p, false], [g.moment * p, false], [g.projector * p, true], [p, false]];
  }
  if (o.optimizer === 'adam8bit') return adam8bitStates(t.numel);
  return [step, [t.numel * p, false], [t.numel * p, false]];
}

/** Elements of the Adam moments of a parameter (GaLore's live in the low-rank shape). */
function quantisedElements(t: TensorSpec, o: PlanOptions): number {
  if (t.galoreMatrix) return galoreShapes(t.galoreMatrix.m, t.galoreMatrix.n, o.galoreRank ?? o.rank).moment;
  return t.numel;
}

function adam8bitStates(n: number): Array<[number, boolean]> {
  if (n < BNB_MIN_8BIT_SIZE) return [[4 * n, false], [4 * n, false]];
  const blocks = Math.ceil(n / BNB_BLOCK);
  return [[n, false], [n, false], [4 * blocks, false], [4 * blocks, false]];
}

export interface StaticDetail {
  exact: StaticBytes;
  /** The same tensors with every tensor rounded to the allocator's block: what a GPU holds. */
  rounded: StaticBytes;
  /** The largest single gradient (per-layer updates keep only one alive at a time). */
  largestGradBytes: number;
  /** The same, unrounded. */
  largestGradExact: number;
  /** The output head's gradient (the embedding's when tied): the first one backward produces. */
  headGradBytes: number;
}

function emptyStatic(): StaticBytes {
  return { weights: 0, gradients: 0, optimizerStates: 0, indices: 0, projectors: 0, buffers: 0 };
}

export function staticBytes(c: ModelConfig, o: PlanOptions): StaticDetail {
  const exact = emptyStatic();
  const rounded = emptyStatic();
  const p = paramElementBytes(o);
  let largestGradBytes = 0;
  let largestGradExact = 0;
  let quantised = 0;
  let headGradBytes = 0;
  const add = (key: keyof StaticBytes, bytes: number): void => {
    exact[key] += bytes;
    rounded[key] += roundBlock(bytes);
  };
  for (const t of modelTensors(c, o)) {
    if (t.role === 'index') {
      add('indices', t.numel * t.indexBytes!);
      continue;
    }
    add('weights', t.numel * p);
    if (!t.trainable) continue;
    add('gradients', t.numel * p);
    largestGradBytes = Math.max(largestGradBytes, roundBlock(t.numel * p));
    largestGradExact = Math.max(largestGradExact, t.numel * p);
    if (t.component === 'head' || (c.tieWordEmbeddings && t.component === 'embeddings')) headGradBytes = roundBlock(t.numel * p);
    if (o.optimizer === 'adam8bit' && quantisedElements(t, o) >= BNB_MIN_8BIT_SIZE) quantised++;
    for (const [bytes, isProjector] of optimizerStateTensors(t, o)) {
      add(isProjector ? 'projectors' : 'optimizerStates', bytes);
    }
  }
  // bitsandbytes keeps one pair of 256-entry fp32 quantisation maps per optimizer that quantises
  // anything: one for the whole model, or one per quantised parameter under per-layer updates.
  const maps = o.perLayer ? quantised : Math.min(quantised, 1);
  for (let i = 0; i < 2 * maps; i++) add('optimizerStates', 256 * 4);
  // The engine registers no buffers besides the SLTrain indices: rotary tables are computed per forward.
  return { exact, rounded, largestGradBytes, largestGradExact, headGradBytes };
}
