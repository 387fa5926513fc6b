// SLTrain's dynamic support (--support-update-every K --support-update-fraction f): what it adds to a
// plan. Each layer keeps one more index buffer, the positions in `values` of the entries regrown at the
// last update (floor(f · nnz), int32 while nnz < 2^31); an update step adds transients: the regrow
// scores, |∂L/∂W| formed one block of output rows at a time, and the re-sorting of the support
// with its values and Adam moments.
import type { ModelConfig } from '../../modelConfig';
import { flagOfPlanKey } from '../../runSchema';
import { linearShapes, paramElementBytes, roundBlock, sparseNonzeros, type LinearShape, type TensorSpec } from '../shapes';
import type { PlanOptions } from '../types';

/** The engine's support_update.SCORE_BLOCK_ELEMENTS: the largest |∂L/∂W| block formed at once (fp32). */
export const SCORE_BLOCK_ELEMENTS = 2 ** 20;

/** Entries one layer drops and regrows at an update: floor(f · nnz), as the engine's regrow_count. */
export function regrowCount(nnz: number, fraction: number): number {
  return Math.floor(fraction * nnz);
}

function regrowOf(l: LinearShape, o: PlanOptions): { nnz: number; k: number } {
  const nnz = sparseNonzeros(l, o.delta);
  return { nnz, k: o.supportUpdateEvery > 0 ? regrowCount(nnz, o.supportUpdateFraction) : 0 };
}

export function regrownIndexTensor(prefix: string, l: LinearShape, o: PlanOptions, nnz: number): TensorSpec | undefined {
  if (!(o.supportUpdateEvery > 0)) return undefined;
  const k = regrowCount(nnz, o.supportUpdateFraction);
  if (k === 0) return undefined;
  return { name: `${prefix}.regrown_indices`, component: l.kind, numel: k, role: 'index', trainable: false,
    indexBytes: nnz < 2 ** 31 ? 4 : 8 };
}

export function dynamicSupportProblems(c: ModelConfig, o: PlanOptions): string[] {
  const every = flagOfPlanKey('supportUpdateEvery');
  const fraction = flagOfPlanKey('supportUpdateFraction');
  if (!Number.isInteger(o.supportUpdateEvery) || o.supportUpdateEvery < 0) {
    return [`${every} must be an integer >= 0 (0 keeps the support fixed), got ${o.supportUpdateEvery}.`];
  }
  if (o.supportUpdateEvery === 0) return [];
  if (!(o.supportUpdateFraction > 0 && o.supportUpdateFraction < 1)) {
    return [`${fraction} must be in (0, 1), got ${o.supportUpdateFraction}.`];
  }
  const out: string[] = [];
  if (o.optimizer !== 'adamw') out.push(`${every} resets the moments of regrown entries, which --optimizer ${o.optimizer} keeps quantised in blocks; use --optimizer adamw.`);
  if (o.sharding !== 'ddp') out.push(`${every} needs every rank to hold whole layers; --sharding ${o.sharding} splits them: use --sharding ddp.`);
  for (const l of linearShapes(c)) {
    const { nnz, k } = regrowOf(l, o);
    if (k > l.out * l.in - nnz) {
      out.push(`${fraction} ${o.supportUpdateFraction} regrows ${k} entries of a ${l.out}x${l.in} layer but only ${l.out * l.in - nnz} positions are off its support; lower ${fraction} or --delta.`);
      break;
    }
  }
  return out;
}

/**
 * The larger transient of a support update, one layer at a time: the scores (one fp32 block of rows,
 * an fp32 copy of the layer input under half precision, the running top-k of scores and positions),
 * or the re-sort (old and merged int64 positions, the argsort, the sorted positions and permutation,
 * fp32 |values|, the keep mask and one re-ordered values-sized tensor).
 */
export function supportUpdateTemporaryBytes(c: ModelConfig, o: PlanOptions): number {
  if (!(o.supportUpdateEvery > 0)) return 0;
  const p = paramElementBytes(o);
  const tokens = o.microBatch * o.seqLen;
  let worst = 0;
  for (const l of linearShapes(c)) {
    const { nnz, k } = regrowOf(l, o);
    if (k === 0) continue;
    const rows = Math.min(l.out, Math.max(1, Math.floor(SCORE_BLOCK_ELEMENTS / l.in)));
    const scores = roundBlock(rows * l.in * 4) + (o.precision === 'fp32' ? 0 : roundBlock(tokens * l.in * 4))
      + 2 * (roundBlock(k * 4) + roundBlock(k * 8));
    const resort = 5 * roundBlock(nnz * 8) + roundBlock(nnz * 4) + roundBlock(nnz) + roundBlock(nnz * p);
    worst = Math.max(worst, scores, resort);
  }
  return worst;
}
