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
  /** Element size of an index tensor. */
  indexBytes?: number;
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

/** The widest input int16 column indices address (0 .. 32767). */
export const INT16_MAX_COLUMNS = 2 ** 15;

export type IndexLayout = { layout: 'csr'; colBytes: 2; rowBytes: 4 | 8 } | { layout: 'flat'; bytes: 4 | 8 };

/**
 * How the engine stores one layer's support (sltrain.layers.resolve_index_dtype): CSR with int16
 * columns and int32 row offsets (int64 past 2^31 nonzeros), or flat row-major positions. auto takes
 * CSR whenever the input width fits int16, else the narrowest flat dtype.
 */
export function indexLayout(l: LinearShape, requested: IndexDtype, nnz: number): IndexLayout {
  const csr = (): IndexLayout => ({ layout: 'csr', colBytes: 2, rowBytes: nnz < 2 ** 31 ? 4 : 8 });
  const flat = (): IndexLayout => ({ layout: 'flat', bytes: requested === 'int64' || l.in * l.out >= 2 ** 31 ? 8 : 4 });
  if (requested === 'int16') return csr();
  if (requested === 'auto') return l.in <= INT16_MAX_COLUMNS ? csr() : flat();
  return flat();
}

/** Why an index dtype cannot store a model's supports, or undefined when it can. */
export function indexDtypeProblem(c: ModelConfig, requested: IndexDtype): string | undefined {
  const widest = Math.max(...linearShapes(c).map((l) => l.in));
  if (requested === 'int16' && widest > INT16_MAX_COLUMNS) {
    return `--index-dtype int16 cannot address ${widest} input columns (at most ${INT16_MAX_COLUMNS}); use auto, int32 or int64`;
  }
  const largest = Math.max(...linearShapes(c).map((l) => l.in * l.out));
  if (requested === 'int32' && largest >= 2 ** 31) {
    return `--index-dtype int32 cannot address ${largest} positions of one layer; use auto or int64`;
  }
  return undefined;
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
      const values: TensorSpec = { name: `${prefix}.values`, component: c, numel: nnz, role: 'param', trainable: true };
      const lay = indexLayout(l, m.indexDtype, nnz);
      const index = (name: string, numel: number, indexBytes: number): TensorSpec =>
        ({ name: `${prefix}.${name}`, component: c, numel, role: 'index', trainable: false, indexBytes });
      return lay.layout === 'csr'
        ? [...factors, values, index('crow_indices', l.out + 1, lay.rowBytes), index('col_indices', nnz, lay.colBytes)]
        : [...factors, values, index('indices', nnz, lay.bytes)];
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

