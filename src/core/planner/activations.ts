// Bytes of the tensors autograd saves for backward in one forward pass of the bundled engine, and the
// transient logits / cross-entropy tensors around the loss. Terms follow engine/sltrain/model.py op
// by op; the CPU parity test checks the total against saved_tensors_hooks in `sltrain.measure`.
import type { ModelConfig } from '../modelConfig';
import { plannerMethod } from './methods';
import { linearShapes } from './shapes';
import type { PlanOptions } from './types';

/** The engine's loss chunk: sequences are processed so that one fp32 chunk stays under 64 MiB. */
export const LOSS_CHUNK_BYTES = 64 * 2 ** 20;

/** Activation element size: bf16 autocast and pure bf16 both run the matmuls in bf16. */
export function activationElementBytes(o: PlanOptions): number {
  return o.precision === 'fp32' ? 4 : 2;
}

export interface ActivationModel {
  /** Saved by one decoder layer (bytes). */
  perLayer: number;
  /** Saved by all decoder layers in forward (with checkpointing: their inputs only). */
  layers: number;
  /** Saved outside the decoder layers: embedding ids, rotary tables, final norm, head and loss. */
  head: number;
  /** The loss's fp32 working chunk beside the saved tensors at the end of forward. */
  forwardTransient: number;
  /** Inside the loss's backward: the logits' gradient and an fp32 softmax chunk. */
  backwardTransient: number;
  /** What the loss saves (logits, log-sum-exp, count), freed once its backward is done. */
  lossSavedBytes: number;
  /** The logits' gradient in the activation dtype, after the upcast's backward. */
  logitsGradBytes: number;
  /** The head's input, released after forward, restored when the logits' gradient arrives. */
  headInputRefillBytes: number;
  /** Everything saved for backward in one micro-batch. */
  saved: number;
}

/**
 * The engine's RMSNorm (one autograd function) saves its input in the residual stream's dtype and
 * the fp32 reciprocal RMS per token, and recomputes the normalised tensor in backward.
 */
function rmsNormBytes(N: number, h: number, o: PlanOptions): number {
  return residualElementBytes(o) * N * h + 4 * N;
}

/** The residual stream follows the parameters: bf16 when they are, fp32 otherwise (also under autocast). */
function residualElementBytes(o: PlanOptions): number {
  return o.precision === 'bf16' ? 2 : 4;
}

/**
 * Bytes the linears reading a norm's output save of it: under autocast (where the output stays fp32)
 * a bf16 cast each, since casts of activations are not cached; otherwise one shared copy, which the
 * engine releases after forward and recomputes in backward (sltrain.remat) unless the layer is
 * checkpointed.
 */
function normOutputBytes(N: number, h: number, readers: number, o: PlanOptions, released: boolean): number {
  if (o.precision === 'mixed') return readers * 2 * N * h;
  return released ? 0 : activationElementBytes(o) * N * h;
}

/**
 * Weights autocast casts to bf16 once per forward and keeps for backward: every weight an F.linear
 * uses (dense and ReLoRA linears, and the head). SLTrain's own matmul casts its factors transiently.
 */
function autocastWeightBytes(c: ModelConfig, o: PlanOptions): number {
  if (o.precision !== 'mixed') return 0;
  const method = plannerMethod(o.method);
  const perLayer = linearShapes(c).reduce((sum, l) => sum + method.autocastCachedElements(l, o.rank), 0);
  return 2 * (c.numHiddenLayers * perLayer + (c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize));
}

export function activations(c: ModelConfig, o: PlanOptions): ActivationModel {
  const a = activationElementBytes(o);
  const B = o.microBatch;
  const T = o.seqLen;
  const N = B * T;
  const Np = B * (T - 1); // positions that predict a next token
  const h = c.hiddenSize;
  const I = c.intermediateSize;
  const H = c.numAttentionHeads;
  const V = c.vocabSize;
  const norm = rmsNormBytes(N, h, o);
  // What the method's linears save beyond their inputs (ReLoRA: each adaptor's rank-r intermediate).
  const adaptor = linearShapes(c).length * N * plannerMethod(o.method).extraSavedPerToken(o.rank) * a;
  // One layer's saved bytes, with the cheap linear inputs released (a plain forward) or kept (the
  // forward a checkpointed layer reruns in backward).
  const layerBytes = (released: boolean): number => {
    const attention =
      norm +
      normOutputBytes(N, h, 3, o, released) + // the normalised input of q, k and v
      3 * N * h * a + // q, k (after rotary) and v as SDPA saves them (k, v expanded per query head under GQA)
      N * h * a + // SDPA output; o_proj's input is a view of it (flash kernels write (B, T, H, D))
      B * H * T * 4; // SDPA logsumexp, fp32
    // gate and up outputs (the SwiGLU function recomputes silu in backward); their product, down's
    // input, is released like the norm outputs (also under autocast, where it is already bf16)
    const mlp = norm + normOutputBytes(N, h, 2, o, released) + (released ? 2 : 3) * N * I * a + adaptor;
    return attention + mlp;
  };
  const perLayer = layerBytes(!o.gradCkpt);
  const layerInputs = N * h * residualElementBytes(o);
  // Checkpointing keeps each layer's input; one layer's activations come back during its recompute
  // in backward, so they count in backward's transient instead.
  const layers = c.numHiddenLayers * (o.gradCkpt ? layerInputs : perLayer);
  // The recomputed layer keeps everything until its backward; also the final norm's released output
  // comes back when the head's gradient arrives.
  const recompute = o.gradCkpt ? layerBytes(false) : 0;
  const refill = o.precision === 'mixed' ? 0 : N * h * a;
  const headDim = h / H;
  const rotaryBytes = residualElementBytes(o); // cos/sin follow the residual stream's dtype
  // The loss keeps the logits (their own dtype) and an fp32 log-sum-exp per predicting position; it
  // works a few sequences at a time, with an fp32 chunk and logsumexp's exp of it alive together.
  const logits = N * V * a;
  const lossSaved = logits + Np * 4 + 8; // logits, log-sum-exp, token count (int64)
  const chunkSeqs = Math.min(B, Math.max(1, Math.floor(LOSS_CHUNK_BYTES / (T * V * 4))));
  const chunk = chunkSeqs * (T - 1) * V * 4;
  const head =
    N * 8 + // input ids, saved by the embedding
    2 * T * headDim * rotaryBytes + // rotary cos and sin, shared by all layers
    norm + normOutputBytes(N, h, 1, o, true) + // the final norm and the head's input (released)
    N * 8 + // the labels (a tensor of their own in training)
    lossSaved +
    autocastWeightBytes(c, o);
  return {
    perLayer,
    layers,
    head,
    forwardTransient: 2 * chunk,
    backwardTransient: logits + 2 * chunk + recompute,
    lossSavedBytes: lossSaved,
    logitsGradBytes: logits,
    headInputRefillBytes: refill,
    saved: layers + head,
  };
}
