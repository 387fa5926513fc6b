// SLTrain: each linear is (alpha/r)·B·A + S, S with a random support of floor(delta·in·out)
// entries, stored as CSR (int16 columns) or flat positions as the engine picks; fixed, or moved every
// --support-update-every updates (the dynamic support: ./sltrainDynamic).
import { indexDtypeProblem, indexLayout, lowRankFactors, PAPER_BF16, PAPER_INDEX, sparseNonzeros, type TensorSpec } from '../shapes';
import type { PlanOptions } from '../types';
import { dynamicSupportProblems, regrownIndexTensor, supportUpdateTemporaryBytes } from './sltrainDynamic';
import type { PlannerMethod } from './types';

export const sltrain: PlannerMethod = {
  usesRank: true,
  problems: (c, o) => {
    const out: string[] = [];
    if (!(o.delta > 0 && o.delta < 1)) out.push(`--delta must be in (0, 1), got ${o.delta}; the papers use 0.03 (0.05 at 7B).`);
    const index = indexDtypeProblem(c, o.indexDtype);
    if (index) out.push(`${index}.`);
    return [...out, ...dynamicSupportProblems(c, o)];
  },
  linearTensors: (prefix, l, m) => {
    const factors = lowRankFactors(prefix, l, m.rank);
    const nnz = sparseNonzeros(l, m.delta);
    if (nnz === 0) return factors;
    const values: TensorSpec = { name: `${prefix}.values`, component: l.kind, numel: nnz, role: 'param', trainable: true };
    const lay = indexLayout(l, m.indexDtype, nnz);
    const index = (name: string, numel: number, indexBytes: number): TensorSpec =>
      ({ name: `${prefix}.${name}`, component: l.kind, numel, role: 'index', trainable: false, indexBytes });
    const support = lay.layout === 'csr'
      ? [index('crow_indices', l.out + 1, lay.rowBytes), index('col_indices', nnz, lay.colBytes)]
      : [index('indices', nnz, lay.bytes)];
    const regrown = regrownIndexTensor(prefix, l, m as PlanOptions, nnz);
    return [...factors, values, ...support, ...(regrown ? [regrown] : [])];
  },
  // The papers count int64 indices, 8 B per nonzero, whatever the engine stores.
  paperEstimate: (_c, _o, params, stateBytes) => ({
    weightsBytes: params.trainable * PAPER_BF16 + params.sparseNonzeros * PAPER_INDEX,
    optimizerBytes: params.trainable * stateBytes,
  }),
  autocastCachedElements: () => 0,
  extraSavedPerToken: () => 0,
  stepTemporaryBytes: supportUpdateTemporaryBytes,
  // The largest rank (then delta) on a short ladder below the planned one whose peak fits.
  suggestFit: (o, gpuBytes, peakOf) => {
    const ranks = [o.rank, o.rank / 2, o.rank / 4, o.rank / 8].map(Math.floor).filter((r) => r >= 8);
    const deltas = [o.delta, 0.03, 0.02, 0.01].filter((d, i, all) => d <= o.delta && all.indexOf(d) === i);
    for (const rank of ranks) {
      for (const delta of deltas) {
        const bytes = peakOf({ ...o, rank, delta });
        if (bytes <= gpuBytes) return { rank, delta, peakBytes: bytes };
      }
    }
    return undefined;
  },
};
