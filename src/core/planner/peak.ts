// The peak of torch.cuda.max_memory_allocated over one training step of the bundled engine
// (docs/memory.md §2): the largest of end of forward, start/end of backward and the optimizer step.
import type { ModelConfig } from '../modelConfig';
import { activations } from './activations';
import { plannerMethod } from './methods';
import { isFsdp, largestRank, rankStaticBytes, shardingTransients, type ShardingTransients } from './sharding';
import { staticBytes, type StaticDetail } from './staticBytes';
import type { Peak, PeakItem, PeakPhase, PlanOptions, StaticBytes } from './types';

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

export function peakMemory(c: ModelConfig, o: PlanOptions, parts: StaticPeakParts = staticPeakParts(c, o)): Peak {
  const { st, largestGrad, headGrad, temp } = parts;
  const sharded = parts.sharded ?? { forward: 0, backward: 0, buckets: 0 };
  const act = activations(c, o);
  const persistent: PeakItem[] = [
    { key: 'weights', label: 'Weights', bytes: st.weights },
    { key: 'optimizerStates', label: 'Optimizer states', bytes: st.optimizerStates },
    { key: 'indices', label: 'Sparse indices', bytes: st.indices },
    { key: 'projectors', label: 'GaLore projectors', bytes: st.projectors },
    { key: 'buffers', label: 'Buffers', bytes: st.buffers },
    { key: 'workspace', label: 'cuBLAS workspaces', bytes: cublasWorkspaceBytes(o) },
    { key: 'ddpBuckets', label: 'DDP gradient buckets', bytes: sharded.buckets },
  ];
  // Gradients of earlier micro-batches stay alive under accumulation, also with per-layer updates.
  const accumulating = o.gradAccum > 1;
  const held = accumulating ? st.gradients : 0;
  // Backward has two tall moments near its start: inside the loss's backward (the logits' gradient
  // and an fp32 softmax chunk beside everything saved), and right after the head's matmul (the
  // logits' gradient plus the head's weight gradient, once the loss has freed what it saved). The head's gradient
  // exists in both modes; per-layer updates step it at once, so only later gradients differ.
  const inCrossEntropy = act.backwardTransient;
  const afterHead = act.logitsGradBytes + act.headInputRefillBytes + headGrad - act.lossSavedBytes;
  const headMoment = afterHead > inCrossEntropy;
  const phases: Record<PeakPhase, PeakItem[]> = {
    forward: [
      ...persistent,
      { key: 'gradients', label: 'Gradients', bytes: held },
      { key: 'activations', label: 'Saved activations', bytes: act.saved },
      { key: 'logits', label: 'Logits and loss', bytes: act.forwardTransient },
      { key: 'gathered', label: 'Gathered FSDP units', bytes: sharded.forward },
    ],
    backward: [
      ...persistent,
      { key: 'gradients', label: 'Gradients', bytes: held + (headMoment ? headGrad : 0) },
      { key: 'activations', label: 'Saved activations', bytes: act.saved },
      { key: 'logits', label: 'Logits and loss', bytes: headMoment ? afterHead - headGrad : inCrossEntropy },
      { key: 'gathered', label: 'Gathered FSDP units and their full gradients', bytes: sharded.backward },
    ],
    // Per-layer: one gradient in flight (at most the largest) and its optimizer's temporaries, late in
    // backward when the activations are gone. Otherwise: every gradient at the optimizer step.
    optimizer: [
      ...persistent,
      { key: 'gradients', label: 'Gradients', bytes: o.perLayer ? held + largestGrad : st.gradients },
      { key: 'optimizerTemp', label: 'Optimizer step temporaries', bytes: temp },
    ],
  };
  const totals = {} as Record<PeakPhase, number>;
  let phase: PeakPhase = 'forward';
  for (const k of Object.keys(phases) as PeakPhase[]) {
    totals[k] = phases[k].reduce((sum, i) => sum + i.bytes, 0);
    if (totals[k] > totals[phase]) phase = k;
  }
  return { bytes: totals[phase], phase, breakdown: phases[phase].filter((i) => i.bytes > 0), phases: totals };
}
