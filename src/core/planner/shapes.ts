// Shapes and element sizes shared by the planner and its method modules: the seven decoder-block
// linears, the tensor records the planner sums, SLTrain's support layouts and the allocator's block.
// Kept free of method logic so that every method module can import it without a cycle.
import type { ModelConfig } from '../modelConfig';
import type { IndexDtype, Method, PlanOptions } from './types';

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
  /** For a full-rank linear weight under APOLLO: the matrix shape and the rank of its random projection. */
  apolloMatrix?: { m: number; n: number; rank: number };
}

export interface MethodShape {
  method: Method;
  rank: number;
  delta: number;
  indexDtype: IndexDtype;
}

export function linearShapes(c: ModelConfig): LinearShape[] {
  const h = c.hiddenSize;
  const qDim = c.numAttentionHeads * c.headDim; // differs from h when head_dim is given (qwen3)
  const kvDim = c.numKeyValueHeads * c.headDim;
  const I = c.intermediateSize;
  return [
    { kind: 'q_proj', out: qDim, in: h },
    { kind: 'k_proj', out: kvDim, in: h },
    { kind: 'v_proj', out: kvDim, in: h },
    { kind: 'o_proj', out: h, in: qDim },
    { kind: 'gate_proj', out: I, in: h },
    { kind: 'up_proj', out: I, in: h },
    { kind: 'down_proj', out: h, in: I },
  ];
}

/** Whether a block linear has a bias in the config's family (q/k/v, o and MLP biases are separate switches). */
export function linearHasBias(c: ModelConfig, kind: LinearKind): boolean {
  if (kind === 'o_proj') return c.oBias;
  return kind === 'q_proj' || kind === 'k_proj' || kind === 'v_proj' ? c.qkvBias : c.mlpBias;
}

/**
 * nnz of the fixed support: floor(delta · (in · out)), the integer product first, as the engine and
 * the reference code compute it (left to right, 29×100 at delta 0.01 would give 28 instead of 29).
 */
export function sparseNonzeros(l: LinearShape, delta: number): number {
  return Math.floor(delta * (l.in * l.out));
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

/** The dense weight of a linear (full rank, GaLore, ReLoRA's frozen base). */
export function denseWeight(prefix: string, l: LinearShape, trainable: boolean): TensorSpec {
  return { name: `${prefix}.weight`, component: l.kind, numel: l.out * l.in, role: 'param', trainable };
}

/** The low-rank factors A (r, in) and B (out, r), in the engine's registration order. */
export function lowRankFactors(prefix: string, l: LinearShape, rank: number): TensorSpec[] {
  return [
    { name: `${prefix}.A`, component: l.kind, numel: rank * l.in, role: 'param', trainable: true },
    { name: `${prefix}.B`, component: l.kind, numel: l.out * rank, role: 'param', trainable: true },
  ];
}

export const ALLOCATOR_BLOCK = 512;

/** Bytes of a tensor as the CUDA caching allocator hands them out (multiples of 512 B). */
export function roundBlock(bytes: number): number {
  return bytes === 0 ? 0 : Math.ceil(bytes / ALLOCATOR_BLOCK) * ALLOCATOR_BLOCK;
}

/** Parameter (and gradient, and Adam moment) element size: pure bf16 keeps 2 B, fp32 master weights 4 B. */
export function paramElementBytes(o: PlanOptions): number {
  return o.precision === 'bf16' ? 2 : 4;
}

/** GaLore projector and low-rank moment shapes for a matrix (m, n) at rank r: P is r×n when m ≥ n, else m×r. */
export function galoreShapes(m: number, n: number, r: number): { projector: number; moment: number } {
  const rr = Math.min(r, m, n);
  return m >= n ? { projector: rr * n, moment: m * rr } : { projector: m * rr, moment: rr * n };
}

/** The papers' element sizes (docs/memory.md §1): bf16 everything, int64 support indices. */
export const PAPER_BF16 = 2;
export const PAPER_INDEX = 8;
