// Full-rank training: every linear keeps its dense weight and full AdamW states.
import { denseWeight, PAPER_BF16 } from '../shapes';
import type { PlannerMethod } from './types';

export const full: PlannerMethod = {
  usesRank: false,
  linearTensors: (prefix, l) => [denseWeight(prefix, l, true)],
  paperEstimate: (_c, _o, params, stateBytes) => ({
    weightsBytes: params.total * PAPER_BF16,
    optimizerBytes: params.trainable * stateBytes,
  }),
  autocastCachedElements: (l) => l.out * l.in,
  extraSavedPerToken: () => 0,
  stepTemporaryBytes: () => 0,
};
