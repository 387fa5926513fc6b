// The engine's measured timeline (`python -m sltrain.measure --json --timeline`, engine/sltrain/memtimeline.py)
// read into the planner's terms, so the panel can draw it over the planned one event by event.
import type { TimelineCategory } from './timeline';

/** Engine category → the planner's categories it holds (the engine counts GaLore's projectors as optimizer state). */
export const ENGINE_CATEGORIES: Readonly<Record<string, readonly TimelineCategory[]>> = {
  weights: ['weights'], indices: ['indices'], buffers: ['buffers'], optimizer_states: ['optimizerStates', 'projectors'],
  gradients: ['gradients'], activations: ['activations'],
};

export interface MeasuredEvent {
  name: string;
  module: string;
  /** By engine category (ENGINE_CATEGORIES' keys). */
  bytes: Record<string, number>;
  /** The tensors counted: what a CPU measurement sees. */
  tensorBytes: number;
  /** CUDA only: everything the allocator held at that moment (transients included). */
  allocatedBytes: number | null;
}

export interface MeasuredTimeline {
  device: string;
  events: MeasuredEvent[];
}

/** Reads measure's JSON object; undefined when it has no usable timeline. */
export function parseMeasuredTimeline(result: unknown): MeasuredTimeline | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as { device?: unknown; timeline?: unknown };
  if (!Array.isArray(r.timeline)) return undefined;
  const events: MeasuredEvent[] = [];
  for (const e of r.timeline as unknown[]) {
    if (typeof e !== 'object' || e === null) return undefined;
    const { name, module, bytes, allocated } = e as Record<string, unknown>;
    if (typeof name !== 'string' || typeof bytes !== 'object' || bytes === null) return undefined;
    const b: Record<string, number> = {};
    for (const key of Object.keys(ENGINE_CATEGORIES)) {
      const v = (bytes as Record<string, unknown>)[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined;
      b[key] = v;
    }
    events.push({
      name, module: typeof module === 'string' ? module : '', bytes: b,
      tensorBytes: Object.values(b).reduce((s, v) => s + v, 0),
      allocatedBytes: typeof allocated === 'number' ? allocated : null,
    });
  }
  return { device: typeof r.device === 'string' ? r.device : 'unknown', events };
}
