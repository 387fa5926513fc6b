// Bytes of the tensors autograd saves for backward in one forward pass of the bundled engine, and the
// transient logits / cross-entropy tensors around the loss. Terms follow engine/sltrain/model.py op
// by op; the CPU parity test checks the total against saved_tensors_hooks in `sltrain.measure`.
import type { ModelConfig } from '../modelConfig';
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
 * RMSNorm as the engine computes it (HF's way: normalise in fp32, cast back, then the gain): saves the
 * fp32 input, the fp32 reciprocal RMS per token, the normalised tensor and the output (saved by the
 * next linear). Under autocast the fp32 output is not kept; its bf16 cast for the linear is.
 */
function rmsNormBytes(N: number, h: number, o: PlanOptions): number {
  if (o.precision === 'mixed') return 4 * N * h + 4 * N + 4 * N * h + 2 * N * h;
  const a = activationElementBytes(o);
  return 4 * N * h + 4 * N + 2 * a * N * h;
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
  const attention =
    norm +
    3 * N * h * a + // q, k, v as SDPA saves them (k, v expanded to every query head under GQA)
    N * h * a + // SDPA output; o_proj's input is a view of it (flash kernels write (B, T, H, D))
    B * H * T * 4; // SDPA logsumexp, fp32
  const mlp = norm + 4 * N * I * a; // gate out (silu), silu out and up out (mul), product (down)
  const perLayer = attention + mlp;
  const layerInputs = N * h * (o.precision === 'bf16' ? 2 : 4);
  const layers = o.gradCkpt ? c.numHiddenLayers * layerInputs + perLayer : c.numHiddenLayers * perLayer;
  const headDim = h / H;
  const logSoftmax = Np * V * 4;
  const head =
    N * 8 + // input ids, saved by the embedding
    2 * T * headDim * a + // rotary cos and sin, shared by all layers
    norm + // the final norm; its output is what lm_head saves
    logSoftmax + // cross-entropy's log-softmax output
    Np * 8 + 4; // shifted targets and nll's total weight
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
