// Model configs of the supported decoder families (llama, mistral, qwen2, qwen3): Hugging Face
// `config.json` parsing, validation and the bundled presets. The preset table lives in
// engine/sltrain/presets.json and the family table in engine/sltrain/families.json, so the engine and
// the planner can never disagree.
import presetsJson from '../../engine/sltrain/presets.json';
import { familyFeatures, familyOf, refusedFieldProblems, resolveHeadDim, type FamilyFeatures } from './families';
import { MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MODEL_FIELD_LIMITS, type ModelLimitField } from './inputLimits';
import { jsonDepthOffset, jsonErrorOffset } from './jsonError';

/** The fields of a Hugging Face config that decide parameter counts and memory, resolved for its family. */
export interface ModelConfig extends FamilyFeatures {
  name: string;
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  numHiddenLayers: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Per-head width: head_dim when given (qwen3 defaults to 128), else hiddenSize / numAttentionHeads. */
  headDim: number;
}

/** SLTrain defaults a preset carries (the SLTrain scripts' rank/delta/alpha for that size). */
export interface MethodDefaults {
  rank: number;
  delta: number;
  alpha: number;
}

export interface Preset {
  name: string;
  config: ModelConfig;
  defaults: MethodDefaults;
  galoreRank: number;
  source: string;
}

/** One problem with a config, tied to a field (or a line/column for syntax errors). */
export interface ConfigProblem {
  field?: string;
  line?: number;
  column?: number;
  message: string;
  /** The parser's own wording, for logs. */
  detail?: string;
}

export class ConfigError extends Error {
  constructor(public readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Accepts "llama_60m", "llama-60m", "60m" and "60M". */
export function findPreset(spec: string): Preset | undefined {
  const key = spec.trim().toLowerCase().replace(/-/g, '_');
  return PRESETS.find((p) => p.name === key || p.name === `llama_${key}`);
}

/**
 * SLTrain defaults for a config that is not a preset: the engine's rule (sltrain.config.default_rank):
 * rank hidden/4 capped at the narrowest block linear (the k/v width under grouped-query attention),
 * delta 0.03, alpha 32.
 */
export function defaultsFor(config: ModelConfig): MethodDefaults {
  const exact = PRESETS.find((p) => p.name === config.name);
  if (exact) return exact.defaults;
  const kv = config.numKeyValueHeads * config.headDim;
  const narrowest = Math.min(kv, config.hiddenSize, config.intermediateSize, config.numAttentionHeads * config.headDim);
  return { rank: Math.max(1, Math.min(Math.floor(config.hiddenSize / 4), narrowest)), delta: 0.03, alpha: 32 };
}

const INT_FIELDS: ReadonlyArray<[keyof ModelConfig, string]> = [
  ['hiddenSize', 'hidden_size'],
  ['intermediateSize', 'intermediate_size'],
  ['numAttentionHeads', 'num_attention_heads'],
  ['numHiddenLayers', 'num_hidden_layers'],
  ['vocabSize', 'vocab_size'],
];

/** Line and column (1-based) of a character offset in a text. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Parses JSON text; a syntax error, a text too large or nested too deep becomes a ConfigError. */
export function parseJsonText(text: string, source: string): unknown {
  // Characters never outnumber UTF-8 bytes, so this check cannot refuse a text within the byte limit.
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError([{ message: `${source}: ${text.length} characters is more than a model config can be (limit ${MAX_CONFIG_BYTES} bytes). Give the model's config.json.` }]);
  }
  const deep = jsonDepthOffset(text, MAX_JSON_DEPTH);
  if (deep >= 0) {
    const at = lineColumn(text, deep);
    throw new ConfigError([{ ...at, message: `${source}: JSON nested deeper than ${MAX_JSON_DEPTH} levels at line ${at.line}, column ${at.column}; a model config nests 2 or 3. Give the model's config.json.` }]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const offset = jsonErrorOffset(text);
    const at = lineColumn(text, offset < 0 ? 0 : offset);
    const where = ` at line ${at.line}, column ${at.column}`;
    const found = offset >= text.length ? 'unexpected end of text' : `unexpected ${JSON.stringify(text.slice(offset, offset + 12))}`;
    throw new ConfigError([
      { ...at, message: `${source}: malformed JSON${where}: ${found}. Fix the syntax and try again.`, detail: msg },
    ]);
  }
}

/**
 * Validates a parsed Hugging Face config of a supported family; every problem is reported, one message
 * each. A config of another family gets one message naming the supported families and model_type.
 */
export function validateLlamaConfig(raw: unknown, name: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ message: `${name}: a model config must be a JSON object like a Hugging Face config.json.` }]);
  }
  const obj = raw as Record<string, unknown>;
  const family = familyOf(obj, name);
  if (typeof family !== 'string') throw new ConfigError([family]);
  const problems: ConfigProblem[] = refusedFieldProblems(obj, name);
  const ints: Partial<Record<keyof ModelConfig, number>> = {};
  const readInt = (key: keyof ModelConfig, field: string, optional: boolean): void => {
    const v = obj[field];
    if (v === undefined || v === null) {
      if (!optional) problems.push({ field, message: `${name}: missing field "${field}" (a positive integer).` });
      return;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      problems.push({ field, message: `${name}: field "${field}" must be a positive integer, got ${JSON.stringify(v)}.` });
      return;
    }
    const limit = MODEL_FIELD_LIMITS[field as ModelLimitField];
    if (v > limit) {
      problems.push({ field, message: `${name}: field "${field}" is ${v}, above the limit of ${limit}; no Llama model is that large. Check the value.` });
      return;
    }
    ints[key] = v;
  };
  for (const [key, field] of INT_FIELDS) readInt(key, field, false);
  readInt('numKeyValueHeads', 'num_key_value_heads', true);
  readInt('maxPositionEmbeddings', 'max_position_embeddings', true);
  const tie = obj.tie_word_embeddings;
  if (tie !== undefined && typeof tie !== 'boolean') {
    problems.push({ field: 'tie_word_embeddings', message: `${name}: field "tie_word_embeddings" must be true or false.` });
  }
  const h = ints.hiddenSize;
  const heads = ints.numAttentionHeads;
  const kv = ints.numKeyValueHeads ?? heads;
  const headDimValue = resolveHeadDim(obj, family, h, heads, MODEL_FIELD_LIMITS.hidden_size, name, problems);
  const features = familyFeatures(obj, family, ints.numHiddenLayers, name, problems);
  if (heads !== undefined && kv !== undefined && heads % kv !== 0) {
    problems.push({
      field: 'num_key_value_heads',
      message: `${name}: num_key_value_heads (${kv}) must divide num_attention_heads (${heads}).`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    name,
    hiddenSize: ints.hiddenSize!,
    intermediateSize: ints.intermediateSize!,
    numAttentionHeads: heads!,
    numKeyValueHeads: kv!,
    numHiddenLayers: ints.numHiddenLayers!,
    vocabSize: ints.vocabSize!,
    maxPositionEmbeddings: ints.maxPositionEmbeddings ?? 2048,
    tieWordEmbeddings: tie === true,
    headDim: headDimValue!,
    ...features,
  };
}

/** Parses the text of a config.json (as typed in an editor: may be broken). */
export function parseLlamaConfigText(text: string, name: string): ModelConfig {
  return validateLlamaConfig(parseJsonText(text, name), name);
}

export function headDim(c: ModelConfig): number {
  return c.headDim;
}

// Defined last: building the presets runs the validator above.
interface RawPreset {
  config: Record<string, unknown>;
  sltrain: MethodDefaults;
  galore_rank?: number;
  source: string;
}

const RAW_PRESETS = (presetsJson as unknown as { presets: Record<string, RawPreset> }).presets;

export const PRESETS: readonly Preset[] = Object.entries(RAW_PRESETS).map(([name, raw]) => {
  const config = validateLlamaConfig(raw.config, name);
  return { name, config, defaults: raw.sltrain, galoreRank: raw.galore_rank ?? raw.sltrain.rank, source: raw.source };
});
