// APOLLO and APOLLO-Mini: the model stays full rank; the optimizer keeps Adam's moments in a seeded
// random rank-r projection of each block linear's gradient (rank 1 for Mini) and scales the raw
// gradient by the ratio of the low-rank update to the low-rank gradient.
import type { ModelConfig } from '../../modelConfig';
import { denseWeight, galoreShapes, linearShapes, PAPER_BF16, paramElementBytes, roundBlock } from '../shapes';
import type { PlanOptions } from '../types';
import type { PlannerMethod } from './types';

/** APOLLO-Mini's rank, by definition. */
export const APOLLO_MINI_RANK = 1;

function apolloMethod(rankOf: (o: PlanOptions) => number, name: string): PlannerMethod {
  return {
    usesRank: true,
    problems: (_c, o) => o.optimizer === 'adam8bit'
      ? [`--optimizer adam8bit is not offered for --method ${name}: its Adam moments already live in a low-rank projection; use --optimizer adamw.`]
      : [],
    linearTensors: (prefix, l, m) => {
      const rank = rankOf(m as PlanOptions);
      return [{ ...denseWeight(prefix, l, true), apolloMatrix: { m: l.out, n: l.in, rank } }];
    },
    // GaLore's recount (SLTrain's convention) at APOLLO's rank: per m × n matrix (m ≤ n) the
    // projection m·r and moments 2·n·r; every other parameter keeps full Adam states.
    paperEstimate: (c, o, params, stateBytes) => {
      let linearElems = 0;
      let states = 0;
      for (const l of linearShapes(c)) {
        const m = Math.min(l.out, l.in);
        const n = Math.max(l.out, l.in);
        const r = Math.min(rankOf(o), m);
        linearElems += l.out * l.in;
        states += m * r * PAPER_BF16 + n * r * stateBytes;
      }
      return {
        weightsBytes: params.total * PAPER_BF16,
        optimizerBytes: states * c.numHiddenLayers + (params.trainable - linearElems * c.numHiddenLayers) * stateBytes,
      };
    },
    engineRank: rankOf,
    autocastCachedElements: (l) => l.out * l.in,
    extraSavedPerToken: () => 0,
    stepTemporaryBytes: (c: ModelConfig, o: PlanOptions) => {
      // One matrix at a time: the low-rank gradient, Adam's denominator and normalised update (three
      // moment-sized tensors) and the full-size scaled gradient; on refresh steps also the new
      // projection, drawn in fp32 before its cast.
      const p = paramElementBytes(o);
      let worst = 0;
      for (const l of linearShapes(c)) {
        const g = galoreShapes(l.out, l.in, rankOf(o));
        worst = Math.max(worst, 3 * roundBlock(g.moment * p) + roundBlock(l.out * l.in * p) + roundBlock(g.projector * 4));
      }
      return worst;
    },
  };
}

// APOLLO's scripts take GaLore's ranks (the planner's galoreRank: the preset's, or --rank).
export const apollo = apolloMethod((o) => o.galoreRank ?? o.rank, 'apollo');
export const apolloMini = apolloMethod(() => APOLLO_MINI_RANK, 'apollo_mini');
