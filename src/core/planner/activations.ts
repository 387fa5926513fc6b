// Bytes of the tensors autograd saves for backward in one forward pass of the bundled engine, and the
// transient logits / cross-entropy tensors around the loss. Terms follow the engine's forward op by op
// (engine/sltrain/model.py); the CPU parity test checks the total against saved_tensors_hooks.
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
  /** Saved by the final norm, the head and the loss. */
  head: number;
  /** Logits + fp32 upcast + log-softmax output alive together at the end of forward. */
  forwardTransient: number;
  /** Cross-entropy backward: saved log-softmax output, its gradient and the logits' gradient. */
  backwardTransient: number;
  /** The log-softmax output saved for backward (fp32 N × V). */
  logSoftmaxBytes: number;
  /** The logits' gradient in the activation dtype, after the upcast's backward. */
  logitsGradBytes: number;
  /** Everything saved for backward in one micro-batch. */
  saved: number;
}

export function activations(c: ModelConfig, o: PlanOptions): ActivationModel {
  const a = activationElementBytes(o);
  const b = o.microBatch;
  const s = o.seqLen;
  const N = b * s;
  const h = c.hiddenSize;
  const I = c.intermediateSize;
  const kvDim = c.numKeyValueHeads * (h / c.numAttentionHeads);
  const V = c.vocabSize;
  const rms = N * h * a + N * 4; // RMSNorm saves its input and the fp32 reciprocal RMS per token
  const attention =
    rms +
    N * h * a + // normed input, shared by q/k/v
    N * (h + 2 * kvDim) * a + // q, k (after rotary) and v saved by SDPA
    N * h * a + // SDPA output
    b * c.numAttentionHeads * s * 4 + // SDPA logsumexp, fp32
    N * h * a; // o_proj input: the heads merged back into (B, T, C)
  const mlp =
    rms +
    N * h * a + // normed input, shared by gate/up
    4 * N * I * a; // gate out (silu), silu out and up out (mul), product (down)
  const perLayer = attention + mlp;
  const layers = o.gradCkpt ? c.numHiddenLayers * N * h * a + perLayer : c.numHiddenLayers * perLayer;
  // Logits are computed in the activation dtype; the loss upcasts to fp32 and log-softmax saves its output.
  const logitsA = N * V * a;
  const logits32 = N * V * 4;
  const head = rms + N * h * a + logits32 + N * 8;
  const forwardTransient = logitsA + (a === 4 ? 0 : logits32);
  const backwardTransient = 2 * logits32;
  return {
    perLayer, layers, head, forwardTransient, backwardTransient,
    logSoftmaxBytes: logits32, logitsGradBytes: logitsA, saved: layers + head,
  };
}
