// One training step's memory over time, as the bundled engine allocates it: the bytes alive after
// every event the planner reasons about (each block's forward, the loss, the head's and each block's
// backward, the optimizer step), split by category and tagged by module. The peak's moments
// (docs/memory.md §2) are events of this timeline, and the peak is its maximum.
import type { ModelConfig } from '../modelConfig';
import { activations, type ActivationModel } from './activations';
import { shardingTransients } from './sharding';
import { cublasWorkspaceBytes, optimizerTemporaries, shard, staticPeakParts, type StaticPeakParts } from './stepParts';
import { paramElementBytes, roundBlock } from './shapes';
import { staticBytes } from './staticBytes';
import { modelTensors } from './tensors';
import type { Peak, PeakPhase, PlanOptions } from './types';

/** Categories, bottom to top in the chart; the first six live for the whole step. */
export const TIMELINE_CATEGORIES = [
  'weights', 'optimizerStates', 'indices', 'projectors', 'buffers', 'workspace', 'ddpBuckets',
  'gradients', 'activations', 'logits', 'gathered', 'optimizerTemp',
] as const;
export type TimelineCategory = (typeof TIMELINE_CATEGORIES)[number];

export const CATEGORY_LABELS: Record<TimelineCategory, string> = {
  weights: 'Weights', optimizerStates: 'Optimizer states', indices: 'Sparse indices', projectors: 'GaLore projectors',
  buffers: 'Buffers', workspace: 'cuBLAS workspaces', ddpBuckets: 'DDP gradient buckets', gradients: 'Gradients',
  activations: 'Saved activations', logits: 'Logits and loss', gathered: 'Gathered FSDP units (and their gradients in backward)',
  optimizerTemp: 'Optimizer step temporaries',
};

export interface TimelineEvent {
  /** `forward.layers.3`, `backward.lm_head`, `optimizer.step`...: the name the measured timeline uses too. */
  name: string;
  phase: 'start' | PeakPhase;
  /** The module it happens in (engine parameter prefix), '' for the whole model. */
  module: string;
  bytes: Record<TimelineCategory, number>;
  total: number;
}

export interface Timeline {
  events: TimelineEvent[];
  /** Index of the first event with the largest total. */
  peakIndex: number;
}

/** Trainable gradient bytes per module, in the order backward produces them (allocator-rounded). */
interface GradientModules {
  head: number;
  norm: number;
  layers: number[];
  embed: number;
  /** The largest single gradient of each module (per-layer updates hold one at a time). */
  largest: { head: number; norm: number; layers: number[]; embed: number };
}

function gradientModules(c: ModelConfig, o: PlanOptions, shardedTotal: number, round: (b: number) => number): GradientModules {
  const p = paramElementBytes(o);
  const g: GradientModules = {
    head: 0, norm: 0, layers: new Array<number>(c.numHiddenLayers).fill(0), embed: 0,
    largest: { head: 0, norm: 0, layers: new Array<number>(c.numHiddenLayers).fill(0), embed: 0 },
  };
  for (const t of modelTensors(c, o)) {
    if (t.role === 'index' || !t.trainable) continue;
    const b = round(t.numel * p);
    const layer = /^model\.layers\.(\d+)\./.exec(t.name);
    // Tied embeddings: the head's matmul makes the embedding's gradient first; the lookup adds into it.
    const key = layer ? undefined : t.name.startsWith('lm_head') || (c.tieWordEmbeddings && t.component === 'embeddings')
      ? 'head' : t.name === 'model.norm.weight' ? 'norm' : 'embed';
    if (layer) {
      const i = Number(layer[1]);
      g.layers[i] += b;
      g.largest.layers[i] = Math.max(g.largest.layers[i], b);
    } else if (key) {
      g[key] += b;
      g.largest[key] = Math.max(g.largest[key], b);
    }
  }
  // ZeRO-2/3 and FSDP shard gradients: each module's share of the sharded total.
  const full = g.head + g.norm + g.embed + g.layers.reduce((a, b) => a + b, 0);
  if (full > 0 && shardedTotal !== full) {
    const f = shardedTotal / full;
    const scale = (x: number): number => Math.ceil(x * f);
    return {
      head: scale(g.head), norm: scale(g.norm), embed: scale(g.embed), layers: g.layers.map(scale),
      largest: { head: scale(g.largest.head), norm: scale(g.largest.norm), embed: scale(g.largest.embed), layers: g.largest.layers.map(scale) },
    };
  }
  return g;
}

function exactParts(c: ModelConfig, o: PlanOptions): StaticPeakParts {
  const detail = staticBytes(c, o);
  const st = shard(detail.exact, o, c, true);
  return {
    st, sharded: shardingTransients(c, o), largestGrad: detail.largestGradExact,
    headGrad: gradientModules(c, o, st.gradients, (b) => b).head, temp: optimizerTemporaries(c, o),
  };
}

/**
 * The timeline as a GPU sees it (every tensor rounded up to the allocator's block), or with `exact`
 * the tensors' own bytes, as the engine's CPU measurement counts them.
 */
export function planTimeline(c: ModelConfig, o: PlanOptions, parts?: StaticPeakParts,
  act: ActivationModel = activations(c, o), exact = false): Timeline {
  const p = parts ?? (exact ? exactParts(c, o) : staticPeakParts(c, o));
  const { st, largestGrad, headGrad, temp } = p;
  // Sharded runs: the gathered FSDP units during forward and backward, DDP's buckets throughout.
  const sharded = p.sharded ?? { forward: 0, backward: 0, buckets: 0 };
  const grads = gradientModules(c, o, st.gradients, exact ? (b) => b : roundBlock);
  const L = c.numHiddenLayers;
  const persistent = {
    weights: st.weights, optimizerStates: st.optimizerStates, indices: st.indices, projectors: st.projectors,
    buffers: st.buffers, workspace: cublasWorkspaceBytes(o), ddpBuckets: sharded.buckets,
  };
  // Under accumulation the earlier micro-batches' gradients are alive for the whole step.
  const held = o.gradAccum > 1 ? st.gradients : 0;
  const perLayerAct = act.layers / Math.max(1, L);
  const events: TimelineEvent[] = [];
  const push = (name: string, phase: TimelineEvent['phase'], module: string, live: Partial<Record<TimelineCategory, number>>): void => {
    const gathered = phase === 'forward' ? sharded.forward : phase === 'backward' && !name.endsWith('embed_tokens') ? sharded.backward : 0;
    const bytes = { ...persistent, gradients: 0, activations: 0, logits: 0, gathered, optimizerTemp: 0, ...live };
    events.push({ name, phase, module, bytes, total: TIMELINE_CATEGORIES.reduce((s, k) => s + bytes[k], 0) });
  };

  push('step.start', 'start', '', { gradients: held });
  // Forward: the embedding saves its ids, the first block the rotary tables every block uses, the
  // blocks their activations one after another; the head, final norm and loss save theirs at the end,
  // then the loss's fp32 chunk works beside them.
  const early = act.embedSaved + act.rotarySaved;
  push('forward.embed_tokens', 'forward', 'model.embed_tokens', { gradients: held, activations: act.embedSaved });
  for (let i = 0; i < L; i++) {
    push(`forward.layers.${i}`, 'forward', `model.layers.${i}`, { gradients: held, activations: early + perLayerAct * (i + 1) });
  }
  push('forward.loss', 'forward', 'lm_head', { gradients: held, activations: act.saved, logits: act.forwardTransient });
  // Backward: inside the loss's backward (logits' gradient and a softmax chunk, a recomputed block
  // under checkpointing), then right after the head's matmul (its weight gradient beside the logits'
  // gradient, once the loss has freed what it saved).
  push('backward.loss', 'backward', 'lm_head', { gradients: held, activations: act.saved, logits: act.backwardTransient });
  const inFlight = (module: number): number => (o.perLayer ? module : 0);
  let acc = held + (o.perLayer || held > 0 ? 0 : headGrad);
  // The loss has freed what it saved; the logits' gradient (and the head's input, restored) is alive.
  push('backward.lm_head', 'backward', 'lm_head', {
    gradients: held + headGrad, activations: act.saved - act.lossSavedBytes, logits: act.logitsGradBytes + act.headInputRefillBytes,
  });
  // The batch the loop holds: the ids and labels stay until the step ends.
  const batch = act.embedSaved + act.labelsSaved;
  // The blocks' backward frees their saved activations and makes their gradients; per-layer updates
  // step each gradient as it arrives, so only one of them is alive at a time.
  if (!o.perLayer && held === 0) acc += grads.norm;
  for (let i = L - 1; i >= 0; i--) {
    if (!o.perLayer && held === 0) acc += grads.layers[i];
    // Blocks 0..i-1 still hold theirs; the rotary tables go with the first block's backward.
    push(`backward.layers.${i}`, 'backward', `model.layers.${i}`, {
      gradients: acc + inFlight(grads.largest.layers[i]),
      activations: batch + (i > 0 ? act.rotarySaved : 0) + perLayerAct * i,
    });
  }
  push('backward.embed_tokens', 'backward', 'model.embed_tokens', {
    gradients: acc + (o.perLayer ? grads.largest.embed : held === 0 ? grads.embed : 0), activations: batch,
  });
  if (o.perLayer) {
    // The largest gradient's own update, late in backward when the activations are gone.
    push('optimizer.per_layer', 'optimizer', '', { gradients: held + largestGrad, activations: batch, optimizerTemp: temp });
  } else {
    push('optimizer.step', 'optimizer', '', { gradients: st.gradients, activations: batch, optimizerTemp: temp });
  }
  let peakIndex = 0;
  events.forEach((e, i) => {
    if (e.total > events[peakIndex].total) peakIndex = i;
  });
  return { events, peakIndex };
}

/**
 * The peak as `torch.cuda.max_memory_allocated` reports it: the timeline's largest moment, its phase,
 * its categories; and the largest moment of each phase beside it.
 */
export function peakOfTimeline(t: Timeline): Peak {
  const top = t.events[t.peakIndex];
  const phases: Record<PeakPhase, number> = { forward: 0, backward: 0, optimizer: 0 };
  for (const e of t.events) {
    const phase = e.phase === 'start' ? 'forward' : e.phase;
    phases[phase] = Math.max(phases[phase], e.total);
  }
  const breakdown = TIMELINE_CATEGORIES.filter((k) => top.bytes[k] > 0)
    .map((k) => ({ key: k, label: CATEGORY_LABELS[k], bytes: top.bytes[k] }));
  return { bytes: top.total, phase: top.phase === 'start' ? 'forward' : top.phase, breakdown, phases };
}
