// Per-rank bytes under each --sharding, as the engine's torch allocates them (engine/sltrain/sharding.py):
//   ddp    everything replicated on every rank.
//   zero1  weights and gradients replicated (DDP); torch's ZeroRedundancyOptimizer gives each rank the
//          optimizer states of the parameters it owns: group by group, largest parameter first, each
//          goes to the rank holding the fewest elements so far.
//   zero2 / zero3 / fsdp  FSDP2 `fully_shard` cuts every parameter on dim 0 into ceil(rows / W)-row
//          chunks. Each rank's weight and gradient storage is one padded chunk (a rank past the last
//          row holds padding only); Adam's moments are zeros_like the unpadded local rows, so they
//          differ by rank; the step scalars and SLTrain's support buffers are whole on every rank.
// The transient parts (gathered blocks, reduce-scatter buffers, DDP buckets) are in `shardingTransients`.
import type { ModelConfig } from '../modelConfig';
import { linearShapes, paramElementBytes, roundBlock, type TensorSpec } from './shapes';
import { optimizerStateTensors, staticBytes } from './staticBytes';
import { modelTensors } from './tensors';
import type { PlanOptions, Sharding, StaticBytes } from './types';

const FSDP: ReadonlySet<Sharding> = new Set(['zero2', 'zero3', 'fsdp']);

export function isFsdp(s: Sharding): boolean {
  return FSDP.has(s);
}

/** Dim 0 of a parameter, from its name and the model's linear shapes (the planner lists numels). */
export function rowsOf(t: TensorSpec, c: ModelConfig): number {
  if (t.component === 'embeddings' || t.component === 'head') return c.vocabSize;
  const l = linearShapes(c).find((s) => s.kind === t.component);
  if (!l) return t.numel; // norms, biases: 1-D
  if (t.name.endsWith('.A')) return t.numel / l.in; // (r, in)
  if (t.name.endsWith('.weight') || t.name.endsWith('.B')) return l.out; // (out, in), (out, r)
  return t.numel; // SLTrain's values: 1-D
}

/** The local rows rank `r` of `world` holds of a `rows`-row parameter, and the padded chunk's rows. */
export function fsdpRows(rows: number, world: number, r: number): { local: number; padded: number } {
  const padded = Math.ceil(rows / world);
  return { local: Math.max(0, Math.min(padded, rows - r * padded)), padded };
}

/** Optimizer parameter groups in the engine's order: the rest first, then GaLore's projected weights (one group), APOLLO's (one each). */
function optimizerGroups(params: TensorSpec[]): TensorSpec[][] {
  const rest = params.filter((t) => !t.galoreMatrix && !t.apolloMatrix);
  const galore = params.filter((t) => t.galoreMatrix);
  const apollo = params.filter((t) => t.apolloMatrix).map((t) => [t]);
  return [rest, galore, ...apollo].filter((g) => g.length > 0);
}

/** The rank ZeroRedundancyOptimizer gives each trainable parameter (by name). */
export function zeroOwners(params: TensorSpec[], world: number): Map<string, number> {
  const sizes = new Array<number>(world).fill(0);
  const owner = new Map<string, number>();
  for (const group of optimizerGroups(params)) {
    for (const t of [...group].sort((a, b) => b.numel - a.numel)) { // stable, as Python's sorted
      const r = sizes.indexOf(Math.min(...sizes));
      owner.set(t.name, r);
      sizes[r] += t.numel;
    }
  }
  return owner;
}

function empty(): StaticBytes {
  return { weights: 0, gradients: 0, optimizerStates: 0, indices: 0, projectors: 0, buffers: 0 };
}

/**
 * Exact bytes of the long-lived tensors on each of `o.gpus` ranks (`round` rounds every tensor to the
 * CUDA allocator's block, as a GPU holds it). One process or ddp: the unsharded totals on every rank.
 */
export function rankStaticBytes(c: ModelConfig, o: PlanOptions, round = false): StaticBytes[] {
  const world = Math.max(1, o.gpus);
  if (o.sharding === 'ddp' || (world === 1 && o.sharding === 'zero1')) {
    const whole = staticBytes(c, o);
    return Array.from({ length: world }, () => ({ ...(round ? whole.rounded : whole.exact) }));
  }
  const p = paramElementBytes(o);
  const blk = round ? roundBlock : (x: number): number => x;
  const tensors = modelTensors(c, o);
  const trainable = tensors.filter((t) => t.role === 'param' && t.trainable);
  const owners = o.sharding === 'zero1' ? zeroOwners(trainable, world) : undefined;
  const ranks = Array.from({ length: world }, empty);
  for (const [r, b] of ranks.entries()) {
    for (const t of tensors) {
      if (t.role === 'index') {
        b.indices += blk(t.numel * t.indexBytes!); // a buffer: whole on every rank
        continue;
      }
      const rows = rowsOf(t, c);
      const { local, padded } = isFsdp(o.sharding) ? fsdpRows(rows, world, r) : { local: rows, padded: rows };
      const perRow = t.numel / rows;
      b.weights += blk(padded * perRow * p);
      if (!t.trainable) continue;
      b.gradients += blk(padded * perRow * p);
      if (owners && owners.get(t.name) !== r) continue;
      const states = optimizerStateTensors(t, o);
      for (const [i, [bytes, isProjector]] of states.entries()) {
        // The step scalar is whole on every rank; moments follow the local rows.
        const mine = i === 0 && bytes === 4 ? bytes : (bytes * local) / rows;
        if (isProjector) b.projectors += blk(mine);
        else b.optimizerStates += blk(mine);
      }
    }
  }
  return ranks;
}

/** The rank with the most long-lived bytes: what must fit on every GPU. */
export function largestRank(ranks: StaticBytes[]): StaticBytes {
  const total = (s: StaticBytes): number => s.weights + s.gradients + s.optimizerStates + s.indices + s.projectors + s.buffers;
  return ranks.reduce((a, b) => (total(b) > total(a) ? b : a));
}

/** Bytes of one FSDP unit gathered on one rank: the padded chunks of all ranks, in the compute dtype. */
function gatheredBytes(units: TensorSpec[][], c: ModelConfig, world: number, bytes: number): number[] {
  return units.map((u) => u.reduce((s, t) => s + fsdpRows(rowsOf(t, c), world, 0).padded * world * (t.numel / rowsOf(t, c)) * bytes, 0));
}

export interface ShardingTransients {
  /** Alive at the end of forward: the root unit stays gathered; under zero2 every block does too. */
  forward: number;
  /** Alive during a block's backward: its gathered weights and full-size gradients, and the next block prefetched. */
  backward: number;
  /** ddp / zero1 with several ranks: DDP's gradient buckets (a flat copy of every gradient). */
  buckets: number;
}

/** The parts of the peak that exist only because the run is sharded (zero for one process). */
export function shardingTransients(c: ModelConfig, o: PlanOptions): ShardingTransients {
  const world = Math.max(1, o.gpus);
  const none = { forward: 0, backward: 0, buckets: 0 };
  if (world === 1 && !isFsdp(o.sharding)) return none;
  const tensors = modelTensors(c, o).filter((t) => t.role === 'param');
  const p = paramElementBytes(o);
  if (!isFsdp(o.sharding)) {
    return { ...none, buckets: roundBlock(tensors.filter((t) => t.trainable).reduce((s, t) => s + t.numel * p, 0)) };
  }
  // Gathered and reduced in the parameters' own dtype (mixed precision casts per op under autocast).
  const compute = p;
  const blocks = Array.from({ length: c.numHiddenLayers }, (_, i) => tensors.filter((t) => t.name.startsWith(`model.layers.${i}.`)));
  const root = tensors.filter((t) => !t.name.startsWith('model.layers.'));
  const [rootBytes] = gatheredBytes([root], c, world, compute);
  const blockBytes = gatheredBytes(blocks, c, world, compute);
  const blockGrads = gatheredBytes(blocks.map((b) => b.filter((t) => t.trainable)), c, world, p);
  const largest = Math.max(0, ...blockBytes);
  const keepBlocks = o.sharding === 'zero2' ? blockBytes.reduce((a, b) => a + b, 0) : 0;
  return {
    forward: roundBlock(rootBytes) + roundBlock(keepBlocks),
    backward: roundBlock(rootBytes) + roundBlock(keepBlocks || 2 * largest) + roundBlock(Math.max(0, ...blockGrads)),
    buckets: 0,
  };
}
