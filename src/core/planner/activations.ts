// Bytes of the tensors autograd saves for backward in one forward pass of the bundled engine, and the
// transient logits / cross-entropy tensors around the loss. Terms follow engine/sltrain/model.py op
// by op; the CPU parity test checks the total against saved_tensors_hooks in `sltrain.measure`.
import type { ModelConfig } from '../modelConfig';
import { linearShapes } from './tensors';
import type { PlanOptions } from './types';

/** Activation element size: bf16 autocast and pure bf16 both run the matmuls in bf16. */
export function activationElementBytes(o: PlanOptions): number {
  return o.precision === 'fp32' ? 4 : 2;
}

export interface ActivationModel {
  /** Saved by one decoder layer (bytes). */
  perLayer: number;
  /** Saved by all decoder layers (with checkpointing: layer inputs plus one recomputed layer). */
  layers: number;
  /** Saved outside the decoder layers: embedding ids, rotary tables, final norm, head and loss. */
  head: number;
  /** Logits and their fp32 copy for the loss, alive beside the saved tensors at the end of forward. */
  forwardTransient: number;
  /** Inside cross-entropy's backward: the log-softmax gradient and the input gradient (fp32). */
  backwardTransient: number;
  /** The log-softmax output saved for backward (fp32, B·(T-1) × V). */
  logSoftmaxBytes: number;
  /** The logits' gradient in the activation dtype, after the upcast's backward. */
  logitsGradBytes: number;
  /** Everything saved for backward in one micro-batch. */
  saved: number;
}

/**
 * RMSNorm as the engine computes it (HF's way: normalise in fp32, cast back, then the gain) saves its
 * fp32 input, the fp32 reciprocal RMS per token and the normalised tensor; the gain's product with it
 * is saved by the linears that read it. Under autocast that product stays fp32, and every linear saves
 * its own bf16 cast of it instead (casts of activations are not cached).
 */
function rmsNormBytes(N: number, h: number, o: PlanOptions): number {
  const normalised = o.precision === 'mixed' ? 4 : activationElementBytes(o);
  return 4 * N * h + 4 * N + normalised * N * h;
}

/** Bytes the linears reading one normalised tensor save of it: one shared copy, or a cast each. */
function normOutputBytes(N: number, h: number, readers: number, o: PlanOptions): number {
  return o.precision === 'mixed' ? readers * 2 * N * h : activationElementBytes(o) * N * h;
}

/**
 * Weights autocast casts to bf16 once per forward and keeps for backward: every weight an F.linear
 * uses (dense and ReLoRA linears, and the head). SLTrain's own matmul casts its factors transiently.
 */
function autocastWeightBytes(c: ModelConfig, o: PlanOptions): number {
  if (o.precision !== 'mixed') return 0;
  let perLayer = 0;
  for (const l of linearShapes(c)) {
    if (o.method === 'full' || o.method === 'galore') perLayer += l.out * l.in;
    if (o.method === 'relora') perLayer += l.out * l.in + o.rank * (l.in + l.out);
  }
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
  // ReLoRA's adaptor keeps its rank-r intermediate x·Aᵀ for B's gradient, in every linear.
  const adaptor = o.method === 'relora' ? linearShapes(c).reduce((sum) => sum + N * o.rank * a, 0) : 0;
  const attention =
    norm +
    normOutputBytes(N, h, 3, o) + // the normalised input of q, k and v (ReLoRA's frozen W needs no copy)
    3 * N * h * a + // q, k (after rotary) and v as SDPA saves them (k, v expanded per query head under GQA)
    N * h * a + // SDPA output; o_proj's input is a view of it (flash kernels write (B, T, H, D))
    B * H * T * 4; // SDPA logsumexp, fp32
  // gate out (silu), silu out and up out (mul), product (down); the normalised input of gate and up
  const mlp = norm + normOutputBytes(N, h, 2, o) + 4 * N * I * a + adaptor;
  const perLayer = attention + mlp;
  const layerInputs = N * h * (o.precision === 'bf16' ? 2 : 4);
  const layers = o.gradCkpt ? c.numHiddenLayers * layerInputs + perLayer : c.numHiddenLayers * perLayer;
  const headDim = h / H;
  const logSoftmax = Np * V * 4;
  const rotaryBytes = o.precision === 'mixed' ? 4 : a; // cos/sin follow the residual stream's dtype
  const head =
    N * 8 + // input ids, saved by the embedding
    2 * T * headDim * rotaryBytes + // rotary cos and sin, shared by all layers
    norm + normOutputBytes(N, h, 1, o) + // the final norm and the head's input
    logSoftmax + // cross-entropy's log-softmax output
    Np * 8 + 4 + // shifted targets and nll's total weight
    autocastWeightBytes(c, o);
  return {
    perLayer,
    layers,
    head,
    forwardTransient: N * V * a + Np * V * 4,
    backwardTransient: 2 * Np * V * 4,
    logSoftmaxBytes: logSoftmax,
    logitsGradBytes: N * V * a,
    saved: layers + head,
  };
}
