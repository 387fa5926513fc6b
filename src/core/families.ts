// The decoder families the planner counts and the engine builds. Their differences from LLaMA are one
// table, engine/sltrain/families.json, read here and by the engine (sltrain/families.py), so both
// sides resolve a config.json to the same biases, q/k norms, head_dim and sliding-window layers.
import familiesJson from '../../engine/sltrain/families.json';

type BiasRule = boolean | string;

interface FamilySpec {
  architecture: string;
  qkv_bias: BiasRule;
  o_bias: BiasRule;
  mlp_bias: BiasRule;
  qk_norm: boolean;
  sliding: 'none' | 'all' | 'qwen';
  head_dim_default: number | null;
  sliding_window_default: number | null;
}

interface FamiliesTable {
  families: Record<string, FamilySpec>;
  qwen_max_window_layers_default: number;
  rope_types: Record<string, string[]>;
  refused_fields: Record<string, unknown>;
}

const TABLE = familiesJson as unknown as FamiliesTable;

export const FAMILIES: Readonly<Record<string, FamilySpec>> = TABLE.families;
export const FAMILY_NAMES: readonly string[] = Object.keys(TABLE.families);
const ROPE_FIELDS = Object.fromEntries(Object.entries(TABLE.rope_types).filter(([k]) => !k.startsWith('_')));
export const ROPE_TYPES: readonly string[] = Object.keys(ROPE_FIELDS);
const REFUSED = Object.entries(TABLE.refused_fields).filter(([k]) => !k.startsWith('_'));

/** What a config resolves to for its family, beyond the sizes every family shares. */
export interface FamilyFeatures {
  modelType: string;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  /** Tokens a sliding-window layer attends to (itself included); null: none. */
  slidingWindow: number | null;
  /** Decoder layers that use the window. */
  slidingLayers: number[];
}

export interface FamilyProblem {
  field: string;
  message: string;
}

/** Where problems are collected (the config parser's list, whose entries may lack a field). */
type Problems = Array<{ field?: string; message: string }>;

/** The family a config names (absent model_type: llama, as the papers' configs predate the field). */
export function familyOf(obj: Record<string, unknown>, name: string): string | FamilyProblem {
  const t = obj.model_type ?? 'llama';
  if (typeof t === 'string' && t in TABLE.families) return t;
  return {
    field: 'model_type',
    message: `${name}: model_type ${JSON.stringify(t)} is not supported (field "model_type"); the supported families are ${FAMILY_NAMES.join(', ')} (dense decoders: no mixture of experts, encoders or other architectures).`,
  };
}

/** Fields that select something the engine does not build (a gelu MLP, partial rotary, M-RoPE, ...). */
export function refusedFieldProblems(obj: Record<string, unknown>, name: string): FamilyProblem[] {
  return REFUSED.filter(([k, fine]) => obj[k] !== undefined && obj[k] !== null && obj[k] !== fine).map(([k, fine]) => ({
    field: k,
    message: `${name}: field "${k}" is ${JSON.stringify(obj[k])}, which the engine does not build; it supports ${k} = ${JSON.stringify(fine)} only (families ${FAMILY_NAMES.join(', ')}).`,
  }));
}

function flag(obj: Record<string, unknown>, key: string, name: string, problems: Problems): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') {
    problems.push({ field: key, message: `${name}: field "${key}" must be true or false, got ${JSON.stringify(v)}.` });
    return false;
  }
  return v;
}

/** head_dim as the family's transformers class takes it; undefined when a problem was recorded. */
export function resolveHeadDim(obj: Record<string, unknown>, family: string, hidden: number | undefined,
  heads: number | undefined, maxValue: number, name: string, problems: Problems): number | undefined {
  const d = obj.head_dim ?? FAMILIES[family].head_dim_default;
  if (d === null || d === undefined) {
    if (hidden === undefined || heads === undefined) return undefined;
    if (hidden % heads !== 0) {
      problems.push({ field: 'num_attention_heads', message: `${name}: num_attention_heads (${heads}) must divide hidden_size (${hidden}), or give head_dim.` });
      return undefined;
    }
    return hidden / heads;
  }
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 2 || d % 2 !== 0 || d > maxValue) {
    problems.push({ field: 'head_dim', message: `${name}: field "head_dim" must be an even integer from 2 to ${maxValue} (rotary embeddings pair its halves), got ${JSON.stringify(d)}.` });
    return undefined;
  }
  return d;
}

function slidingLayers(obj: Record<string, unknown>, spec: FamilySpec, layers: number, name: string,
  problems: Problems): { window: number | null; layers: number[] } {
  const none = { window: null, layers: [] };
  if (spec.sliding === 'none') return none;
  const window = 'sliding_window' in obj ? obj.sliding_window : spec.sliding_window_default;
  if (spec.sliding === 'qwen' && !flag(obj, 'use_sliding_window', name, problems)) return none;
  if (window === null || window === undefined) return none;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 1) {
    problems.push({ field: 'sliding_window', message: `${name}: field "sliding_window" must be a positive integer or null, got ${JSON.stringify(window)}.` });
    return none;
  }
  const all = Array.from({ length: layers }, (_, i) => i);
  if (spec.sliding === 'all') return { window, layers: all };
  const types = obj.layer_types;
  if (types !== undefined && types !== null) {
    const allowed = ['full_attention', 'sliding_attention'];
    if (!Array.isArray(types) || types.length !== layers || types.some((t) => !allowed.includes(t as string))) {
      problems.push({ field: 'layer_types', message: `${name}: field "layer_types" must list ${layers} entries (num_hidden_layers), each one of ${allowed.join(', ')}.` });
      return none;
    }
    return { window, layers: all.filter((i) => types[i] === 'sliding_attention') };
  }
  const first = obj.max_window_layers ?? TABLE.qwen_max_window_layers_default;
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) {
    problems.push({ field: 'max_window_layers', message: `${name}: field "max_window_layers" must be a non-negative integer, got ${JSON.stringify(first)}.` });
    return none;
  }
  return { window, layers: all.filter((i) => i >= first) };
}

/** Refuses a rope_scaling (or transformers 5's rope_parameters) the engine does not implement. */
function ropeProblems(obj: Record<string, unknown>, name: string): FamilyProblem[] {
  const field = obj.rope_scaling !== undefined && obj.rope_scaling !== null ? 'rope_scaling' : 'rope_parameters';
  const rs = obj[field];
  if (rs === undefined || rs === null) return [];
  if (typeof rs !== 'object' || Array.isArray(rs)) {
    return [{ field, message: `${name}: field "${field}" must be an object or null.` }];
  }
  const r = rs as Record<string, unknown>;
  const kind = r.rope_type ?? r.type ?? 'default';
  if (typeof kind !== 'string' || !ROPE_TYPES.includes(kind)) {
    return [{ field, message: `${name}: field "${field}" has rope_type ${JSON.stringify(kind)}, which is not supported; use one of ${ROPE_TYPES.join(', ')} or null.` }];
  }
  if (kind === 'default') return [];
  return ROPE_FIELDS[kind].filter((k) => typeof r[k] !== 'number' || !((r[k] as number) > 0) || !Number.isFinite(r[k] as number)).map((k) => ({
    field, message: `${name}: ${field} of type "${kind}" needs "${k}" as a positive number, got ${JSON.stringify(r[k])}.`,
  }));
}

/** The family's switches for a config (problems are appended, each naming its field). */
export function familyFeatures(obj: Record<string, unknown>, family: string, layers: number | undefined, name: string,
  problems: Problems): FamilyFeatures {
  const spec = FAMILIES[family];
  const bias = (rule: BiasRule): boolean => (typeof rule === 'string' ? flag(obj, rule, name, problems) : rule);
  problems.push(...ropeProblems(obj, name));
  const sliding = layers === undefined ? { window: null, layers: [] } : slidingLayers(obj, spec, layers, name, problems);
  return {
    modelType: family,
    qkvBias: bias(spec.qkv_bias),
    oBias: bias(spec.o_bias),
    mlpBias: bias(spec.mlp_bias),
    qkNorm: spec.qk_norm,
    slidingWindow: sliding.window,
    slidingLayers: sliding.layers,
  };
}
