// Checks of planner options against a model: one message per problem, naming the option and the fix.
import { PLAN_OPTION_LIMITS } from '../inputLimits';
import type { ModelConfig } from '../modelConfig';
import { flagOfPlanKey } from '../runSchema';
import { plannerMethod } from './methods';
import { linearShapes } from './tensors';
import type { PlanOptions } from './types';

export function validatePlanOptions(c: ModelConfig, o: PlanOptions): string[] {
  const problems: string[] = [];
  const smallest = Math.min(...linearShapes(c).map((l) => Math.min(l.in, l.out)));
  const int = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) problems.push(`${name} must be an integer >= ${min}, got ${v}.`);
    else atMost(name, v);
  };
  const atMost = (name: string, v: number): void => {
    const limit = (PLAN_OPTION_LIMITS as Record<string, number>)[name];
    if (limit !== undefined && v > limit) problems.push(`${name} ${v} is above the limit of ${limit}; use ${limit} or less.`);
  };
  int(flagOfPlanKey('rank'), o.rank, 1);
  int(flagOfPlanKey('microBatch'), o.microBatch, 1);
  int(flagOfPlanKey('seqLen'), o.seqLen, 1);
  int(flagOfPlanKey('gradAccum'), o.gradAccum, 1);
  int(flagOfPlanKey('gpus'), o.gpus, 1);
  int(flagOfPlanKey('galoreUpdateGap'), o.galoreUpdateGap, 1);
  const method = plannerMethod(o.method);
  if (Number.isInteger(o.rank) && o.rank > smallest && method.usesRank) {
    problems.push(`--rank ${o.rank} is above the smallest linear dimension of ${c.name} (${smallest}); use --rank ${smallest} or less.`);
  }
  if (!(o.alpha > 0)) problems.push(`--alpha must be positive, got ${o.alpha}.`);
  else atMost('--alpha', o.alpha);
  if (!(o.gpuMemoryBytes > 0)) problems.push('--gpu-memory must be a positive number of GB.');
  else atMost('--gpu-memory', o.gpuMemoryBytes / 1e9);
  if (o.perLayer && o.gpus > 1) {
    problems.push('--per-layer cannot be combined with --gpus > 1: per-layer updates step inside backward hooks, before DDP has reduced the gradients.');
  }
  problems.push(...(method.problems?.(c, o) ?? []));
  if (o.seqLen > c.maxPositionEmbeddings) {
    problems.push(`${flagOfPlanKey('seqLen')} ${o.seqLen} is longer than the model's max_position_embeddings (${c.maxPositionEmbeddings}).`);
  }
  return problems;
}
