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
  /** The part of `head` saved before the first block: the embedding's input ids. */
  embedSaved: number;
  /** The part of `head` saved with the first block: the rotary tables it computes for all blocks. */
  rotarySaved: number;
  /** The part of `head` the loss saves of the batch: its labels. The training loop holds the batch (ids
   * and labels) until the step ends, so these two outlive the backward that frees the rest. */
  labelsSaved: number;
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
  // The head's weight is cast too when tied: the embedding's own lookup reads the fp32 weight, the
  // head's matmul a bf16 copy of it.
  return 2 * (c.numHiddenLayers * perLayer + c.vocabSize * c.hiddenSize);
}

/**
 * qwen3's RMSNorm on q and k per head saves its input (the projection's output, in the activation
 * dtype) and an fp32 reciprocal RMS per token and head; its output feeds rotary, which saves nothing.
 */
function qkNormBytes(c: ModelConfig, N: number, a: number): number {
  if (!c.qkNorm) return 0;
  const heads = c.numAttentionHeads + c.numKeyValueHeads;
  return N * heads * (c.headDim * a + 4);
}

/**
 * A sliding-window layer whose window is shorter than the sequence attends through a (T, T) mask,
 * which SDPA turns into an additive mask in the activation dtype and saves, once per such layer.
 * A window covering the sequence is plain causal attention and saves nothing more.
 */
function slidingMaskBytes(c: ModelConfig, T: number, a: number): number {
  return c.slidingWindow !== null && c.slidingWindow < T && c.slidingLayers.length > 0 ? T * T * a : 0;
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
  const D = c.headDim;
  const q = N * H * D; // elements of q (and of k and v expanded per query head); h·N unless head_dim is given
  const norm = rmsNormBytes(N, h, o);
  // What the method's linears save beyond their inputs (ReLoRA: each adaptor's rank-r intermediate).
  const adaptor = linearShapes(c).length * N * plannerMethod(o.method).extraSavedPerToken(o.rank) * a;
  // One layer's saved bytes, with the cheap linear inputs released (a plain forward) or kept (the
  // forward a checkpointed layer reruns in backward).
  const layerBytes = (released: boolean): number => {
    const attention =
      norm +
      normOutputBytes(N, h, 3, o, released) + // the normalised input of q, k and v
      3 * q * a + // q, k (after rotary) and v as SDPA saves them (k, v expanded per query head under GQA)
      q * a + // SDPA output; o_proj's input is a view of it (flash kernels write (B, T, H, D))
      B * H * T * 4 + // SDPA logsumexp, fp32
      qkNormBytes(c, N, a);
    // gate and up outputs (the SwiGLU function recomputes silu in backward); their product, down's
    // input, is released like the norm outputs (also under autocast, where it is already bf16)
    const mlp = norm + normOutputBytes(N, h, 2, o, released) + (released ? 2 : 3) * N * I * a + adaptor;
    return attention + mlp;
  };
  const mask = slidingMaskBytes(c, T, a);
  const windowed = mask > 0 ? c.slidingLayers.length : 0;
  const perLayer = layerBytes(!o.gradCkpt) + (windowed > 0 ? mask : 0); // the largest layer
  const layerInputs = N * h * residualElementBytes(o);
  // Checkpointing keeps each layer's input; one layer's activations come back during its recompute
  // in backward, so they count in backward's transient instead.
  const layers = o.gradCkpt ? c.numHiddenLayers * layerInputs : c.numHiddenLayers * layerBytes(true) + windowed * mask;
  // The recomputed layer keeps everything until its backward; also the final norm's released output
  // comes back when the head's gradient arrives.
  const recompute = o.gradCkpt ? layerBytes(false) + (windowed > 0 ? mask : 0) : 0;
  const refill = o.precision === 'mixed' ? 0 : N * h * a;
  const headDim = D;
  const rotaryBytes = residualElementBytes(o); // cos/sin follow the residual stream's dtype
  // The loss keeps the logits (their own dtype) and an fp32 log-sum-exp per predicting position; it
  // works a few sequences at a time, with an fp32 chunk and logsumexp's exp of it alive together.
  const logits = N * V * a;
  const lossSaved = logits + Np * 4 + 8; // logits, log-sum-exp, token count (int64)
  const chunkSeqs = Math.min(B, Math.max(1, Math.floor(LOSS_CHUNK_BYTES / (T * V * 4))));
  const chunk = chunkSeqs * (T - 1) * V * 4;
  const embedSaved = N * 8; // input ids, saved by the embedding
  const labelsSaved = N * 8; // the labels (a tensor of their own in training), saved by the loss
  const rotarySaved = 2 * T * headDim * rotaryBytes; // rotary cos and sin, shared by all layers
  const head =
    embedSaved +
    rotarySaved +
    norm + normOutputBytes(N, h, 1, o, true) + // the final norm and the head's input (released)
    labelsSaved +
    lossSaved +
    autocastWeightBytes(c, o);
  return {
    perLayer,
    layers,
    head,
    embedSaved,
    rotarySaved,
    labelsSaved,
    forwardTransient: 2 * chunk,
    backwardTransient: logits + 2 * chunk + recompute,
    lossSavedBytes: lossSaved,
    logitsGradBytes: logits,
    headInputRefillBytes: refill,
    saved: layers + head,
  };
}
