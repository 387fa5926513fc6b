// The papers' memory convention (docs/memory.md §1): weights + optimizer states only, everything in bf16
// (2 B per element), int64 sparse indices (8 B), 1 G = 1e9 B. No gradients, no activations.
import type { ModelConfig } from '../modelConfig';
import { linearShapes, sparseNonzeros } from './tensors';
import type { Estimate, ParamCounts, PlanOptions } from './types';

const BF16 = 2;
const INT64 = 8;

/** Optimizer-state bytes per trainable element: Adam's two moments, in bf16 or 8-bit. */
function statesPerElement(o: PlanOptions): number {
  return o.optimizer === 'adam8bit' ? 2 : 2 * BF16;
}

export function paperEstimate(c: ModelConfig, o: PlanOptions, params: ParamCounts): Estimate {
  const perState = statesPerElement(o);
  let weightsBytes: number;
  let optimizerBytes: number;
  switch (o.method) {
    case 'full':
      weightsBytes = params.total * BF16;
      optimizerBytes = params.trainable * perState;
      break;
    case 'lowrank':
    case 'relora':
      // ReLoRA stores the frozen full weights as well as the adaptors; states cover the trainable part.
      weightsBytes = params.total * BF16;
      optimizerBytes = params.trainable * perState;
      break;
    case 'sltrain':
      weightsBytes = params.trainable * BF16 + params.sparseNonzeros * INT64;
      optimizerBytes = params.trainable * perState;
      break;
    case 'galore': {
      // SLTrain's recount of GaLore: for each m × n matrix (m <= n) a projector m·r and moments 2·n·r;
      // every other parameter keeps full Adam states.
      let linearElems = 0;
      let galoreStates = 0;
      for (const l of linearShapes(c)) {
        const m = Math.min(l.out, l.in);
        const n = Math.max(l.out, l.in);
        const r = Math.min(o.galoreRank ?? o.rank, m);
        linearElems += l.out * l.in;
        galoreStates += m * r * BF16 + n * r * perState;
      }
      linearElems *= c.numHiddenLayers;
      galoreStates *= c.numHiddenLayers;
      weightsBytes = params.total * BF16;
      optimizerBytes = galoreStates + (params.trainable - linearElems) * perState;
      break;
    }
  }
  return { weightsBytes, optimizerBytes, totalBytes: weightsBytes + optimizerBytes };
}

/** Nonzeros of every SLTrain support in the model (0 for other methods). */
export function totalNonzeros(c: ModelConfig, o: PlanOptions): number {
  if (o.method !== 'sltrain') return 0;
  return linearShapes(c).reduce((sum, l) => sum + sparseNonzeros(l, o.delta), 0) * c.numHiddenLayers;
}
