// ReLoRA: a frozen dense weight plus a trainable LoRA adaptor B·A per linear, merged into the weight
// and re-initialised periodically (the engine's concern; the memory of one step is what is planned).
import { denseWeight, lowRankFactors, PAPER_BF16 } from '../shapes';
import type { PlannerMethod } from './types';

export const relora: PlannerMethod = {
  usesRank: true,
  linearTensors: (prefix, l, m) => [denseWeight(prefix, l, false), ...lowRankFactors(prefix, l, m.rank)],
  // The papers count the frozen full weights as well as the adaptors; states cover the trainable part.
  paperEstimate: (_c, _o, params, stateBytes) => ({
    weightsBytes: params.total * PAPER_BF16,
    optimizerBytes: params.trainable * stateBytes,
  }),
  // F.linear on the base weight and on both adaptor factors: autocast caches all three casts.
  autocastCachedElements: (l, rank) => l.out * l.in + rank * (l.in + l.out),
  // The adaptor keeps its rank-r intermediate x·Aᵀ for B's gradient.
  extraSavedPerToken: (rank) => rank,
  stepTemporaryBytes: () => 0,
};
