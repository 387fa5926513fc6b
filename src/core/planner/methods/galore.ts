// GaLore: the model stays full rank; the optimizer keeps Adam's moments in a rank-r projection of each
// block linear's gradient, refreshed by an SVD every update gap.
import { denseWeight, galoreShapes, linearShapes, PAPER_BF16, paramElementBytes, roundBlock } from '../shapes';
import type { PlannerMethod } from './types';

export const galore: PlannerMethod = {
  usesRank: true,
  // The weight carries its matrix shape, so the optimizer-state accounting knows to project it.
  linearTensors: (prefix, l) => [{ ...denseWeight(prefix, l, true), galoreMatrix: { m: l.out, n: l.in } }],
  // SLTrain's recount of GaLore: for each m × n matrix (m ≤ n) a projector m·r and moments 2·n·r;
  // every other parameter keeps full Adam states.
  paperEstimate: (c, o, params, stateBytes) => {
    let linearElems = 0;
    let galoreStates = 0;
    for (const l of linearShapes(c)) {
      const m = Math.min(l.out, l.in);
      const n = Math.max(l.out, l.in);
      const r = Math.min(o.galoreRank ?? o.rank, m);
      linearElems += l.out * l.in;
      galoreStates += m * r * PAPER_BF16 + n * r * stateBytes;
    }
    linearElems *= c.numHiddenLayers;
    galoreStates *= c.numHiddenLayers;
    return {
      weightsBytes: params.total * PAPER_BF16,
      optimizerBytes: galoreStates + (params.trainable - linearElems) * stateBytes,
    };
  },
  // The projection rank planned (its scripts' 1024 at 1B unless --rank is given) is the engine's --rank.
  engineRank: (o) => o.galoreRank ?? o.rank,
  autocastCachedElements: (l) => l.out * l.in,
  extraSavedPerToken: () => 0,
  // One matrix at a time: its low-rank update and the full-size one projected back, or, on projector
  // refresh steps, an fp32 copy of the gradient and its thin SVD factors. The larger is the transient.
  stepTemporaryBytes: (c, o) => {
    const p = paramElementBytes(o);
    let worst = 0;
    for (const l of linearShapes(c)) {
      const { out: m, in: n } = l; // every block has the same seven matrices
      const k = Math.min(m, n);
      const low = galoreShapes(m, n, o.galoreRank ?? o.rank).moment;
      const update = roundBlock(low * p) + roundBlock(m * n * p);
      const svd = roundBlock(m * n * 4) + roundBlock(m * k * 4) + roundBlock(k * 4) + roundBlock(k * n * 4);
      worst = Math.max(worst, update, svd);
    }
    return worst;
  },
};
