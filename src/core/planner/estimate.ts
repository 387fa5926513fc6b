// The papers' memory convention (docs/memory.md §1): weights + optimizer states only, everything in bf16
// (2 B per element), int64 sparse indices (8 B), 1 G = 1e9 B. No gradients, no activations.
import type { ModelConfig } from '../modelConfig';
import { plannerMethod } from './methods';
import type { Estimate, ParamCounts, PlanOptions } from './types';

/** Bytes of Adam's two moments per trainable element in the papers' count: bf16, or 8-bit. */
function stateBytesPerElement(o: PlanOptions): number {
  return o.optimizer === 'adam8bit' ? 2 : 2 * 2;
}

export function paperEstimate(c: ModelConfig, o: PlanOptions, params: ParamCounts): Estimate {
  const { weightsBytes, optimizerBytes } = plannerMethod(o.method).paperEstimate(c, o, params, stateBytesPerElement(o));
  return { weightsBytes, optimizerBytes, totalBytes: weightsBytes + optimizerBytes };
}
