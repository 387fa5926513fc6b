// The parts of a step's memory that do not depend on the batch shape: the long-lived tensors of the
// rank holding the most (as the engine shards them), the transients sharding adds, the cuBLAS
// workspaces and the optimizer step's temporaries. Computed once per fit search.
import type { ModelConfig } from '../modelConfig';
import { plannerMethod } from './methods';
import { isFsdp, largestRank, rankStaticBytes, shardingTransients, type ShardingTransients } from './sharding';
import { staticBytes, type StaticDetail } from './staticBytes';
import type { PlanOptions, StaticBytes } from './types';

const MiB = 1024 * 1024;

/** cuBLAS keeps a workspace per handle; the engine's forward and backward use two handles. */
export function cublasWorkspaceBytes(o: PlanOptions): number {
  return 2 * (o.hopper ? 32 * MiB : 8 * MiB + 128 * 1024);
}

/** The long-lived tensors of the rank holding the most, as the engine shards them (./sharding.ts). */
export function shard(s: StaticBytes, o: PlanOptions, c: ModelConfig, exact = false): StaticBytes {
  if (o.gpus <= 1 && !isFsdp(o.sharding)) return s;
  return largestRank(rankStaticBytes(c, o, !exact));
}

/**
 * Transient bytes of the optimizer step. The engine steps AdamW with the fused kernel (no state-sized
 * temporaries) and bitsandbytes in place; a method may add its own (GaLore's full-size update and SVD).
 */
export function optimizerTemporaries(c: ModelConfig, o: PlanOptions): number {
  return plannerMethod(o.method).stepTemporaryBytes(c, o);
}

/** The parts of the peak that do not depend on the batch shape: computed once per fit search. */
export interface StaticPeakParts {
  st: StaticBytes;
  /** Gathered FSDP units, reduce-scatter inputs and DDP buckets (none for one unsharded process). */
  sharded?: ShardingTransients;
  largestGrad: number;
  headGrad: number;
  temp: number;
}

export function staticPeakParts(c: ModelConfig, o: PlanOptions, detail: StaticDetail = staticBytes(c, o)): StaticPeakParts {
  return {
    st: shard(detail.rounded, o, c),
    sharded: shardingTransients(c, o),
    largestGrad: detail.largestGradBytes,
    headGrad: detail.headGradBytes,
    temp: optimizerTemporaries(c, o),
  };
}
