// The low-rank baseline: each linear is (alpha/r)·B·A only (the engine builds it as SLTrain with
// delta 0), so weights, gradients and states are the factors'.
import { lowRankFactors, PAPER_BF16 } from '../shapes';
import type { PlannerMethod } from './types';

export const lowrank: PlannerMethod = {
  usesRank: true,
  linearTensors: (prefix, l, m) => lowRankFactors(prefix, l, m.rank),
  paperEstimate: (_c, _o, params, stateBytes) => ({
    weightsBytes: params.total * PAPER_BF16,
    optimizerBytes: params.trainable * stateBytes,
  }),
  // The factored matmul casts its factors transiently; nothing stays cached for backward.
  autocastCachedElements: () => 0,
  extraSavedPerToken: () => 0,
  stepTemporaryBytes: () => 0,
};
