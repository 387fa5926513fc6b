// The exact list of tensors the bundled engine allocates for a model under a method: parameters
// (trainable or frozen), SLTrain index buffers and GaLore's per-matrix shapes. Counts and static bytes
// are derived from this list only, so they agree with the engine's `measure` to the element.
import type { ModelConfig } from '../modelConfig';
import type { IndexDtype, Method } from './types';

export type LinearKind = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
export const LINEAR_KINDS: readonly LinearKind[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** A decoder-block linear as torch stores it: weight (out, in). */
export interface LinearShape {
  kind: LinearKind;
  out: number;
  in: number;
}

export interface TensorSpec {
  /** Hugging Face style name, e.g. model.layers.0.self_attn.q_proj.A */
  name: string;
  /** embeddings | head | norms | one of LINEAR_KINDS */
  component: string;
  numel: number;
  /** param: a learnable tensor; index: SLTrain support (integer buffer). */
  role: 'param' | 'index';
  trainable: boolean;
  /** For a full-rank linear weight under GaLore: the matrix shape the projector works on. */
  galoreMatrix?: { m: number; n: number };
}

export interface MethodShape {
  method: Method;
  rank: number;
  delta: number;
  indexDtype: IndexDtype;
}

export function linearShapes(c: ModelConfig): LinearShape[] {
  const h = c.hiddenSize;
  const kvDim = c.numKeyValueHeads * (h / c.numAttentionHeads);
  const I = c.intermediateSize;
  return [
    { kind: 'q_proj', out: h, in: h },
    { kind: 'k_proj', out: kvDim, in: h },
    { kind: 'v_proj', out: kvDim, in: h },
    { kind: 'o_proj', out: h, in: h },
    { kind: 'gate_proj', out: I, in: h },
    { kind: 'up_proj', out: I, in: h },
    { kind: 'down_proj', out: h, in: I },
  ];
}

/** nnz of the fixed support: floor(delta · in · out), evaluated in the engine's order. */
export function sparseNonzeros(l: LinearShape, delta: number): number {
  return Math.floor(delta * l.in * l.out);
}

/** Index element size the engine uses: int32 unless the flat index can reach 2^31. */
export function indexBytes(l: LinearShape, requested: IndexDtype): number {
  return requested === 'int64' || l.in * l.out >= 2 ** 31 ? 8 : 4;
}

function linearTensors(prefix: string, l: LinearShape, m: MethodShape): TensorSpec[] {
  const c = l.kind;
  const r = m.rank;
  const dense = (trainable: boolean): TensorSpec => ({
    name: `${prefix}.weight`, component: c, numel: l.out * l.in, role: 'param', trainable,
    ...(m.method === 'galore' ? { galoreMatrix: { m: l.out, n: l.in } } : {}),
  });
  const factors: TensorSpec[] = [
    { name: `${prefix}.A`, component: c, numel: r * l.in, role: 'param', trainable: true },
    { name: `${prefix}.B`, component: c, numel: l.out * r, role: 'param', trainable: true },
  ];
  switch (m.method) {
    case 'full':
    case 'galore':
      return [dense(true)];
    case 'lowrank':
      return factors;
    case 'relora':
      return [dense(false), ...factors];
    case 'sltrain': {
      const nnz = sparseNonzeros(l, m.delta);
      if (nnz === 0) return factors;
      return [
        ...factors,
        { name: `${prefix}.values`, component: c, numel: nnz, role: 'param', trainable: true },
        { name: `${prefix}.indices`, component: c, numel: nnz, role: 'index', trainable: false },
      ];
    }
  }
}

/** Every tensor of the model in the engine's registration order. */
export function modelTensors(c: ModelConfig, m: MethodShape): TensorSpec[] {
  const h = c.hiddenSize;
  const out: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', component: 'embeddings', numel: c.vocabSize * h, role: 'param', trainable: true },
  ];
  const shapes = linearShapes(c);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    for (const l of shapes) {
      const block = l.kind.endsWith('proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(l.kind) ? 'mlp' : 'self_attn';
      out.push(...linearTensors(`${p}.${block}.${l.kind}`, l, m));
    }
    out.push({ name: `${p}.input_layernorm.weight`, component: 'norms', numel: h, role: 'param', trainable: true });
    out.push({ name: `${p}.post_attention_layernorm.weight`, component: 'norms', numel: h, role: 'param', trainable: true });
  }
  out.push({ name: 'model.norm.weight', component: 'norms', numel: h, role: 'param', trainable: true });
  if (!c.tieWordEmbeddings) {
    out.push({ name: 'lm_head.weight', component: 'head', numel: c.vocabSize * h, role: 'param', trainable: true });
  }
  return out;
}

/** Bytes of one index element for a named tensor's linear (used for the static index total). */
export function indexBytesFor(c: ModelConfig, kind: string, requested: IndexDtype): number {
  const l = linearShapes(c).find((s) => s.kind === kind);
  return l ? indexBytes(l, requested) : 8;
}
