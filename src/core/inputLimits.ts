// Upper bounds on every number and file the planner accepts. The engine's table (limits.json) is
// the one definition the planner and the engine share, as with presets.json; only the planner's own
// flags (GPU count, GPU memory) are bounded here. Each bound is far above any real model, so it only
// stops inputs that would make the planner walk billions of tensors or allocate gigabytes.
import limitsJson from '../../engine/sltrain/limits.json';

interface EngineLimits {
  model: Record<ModelLimitField, number>;
  run: { steps: number; batch_size: number; grad_accum: number; seq_len: number; alpha: number };
  files: { config_bytes: number; json_depth: number };
}

export type ModelLimitField = 'hidden_size' | 'intermediate_size' | 'num_attention_heads' | 'num_key_value_heads'
  | 'num_hidden_layers' | 'vocab_size' | 'max_position_embeddings';

const ENGINE = limitsJson as unknown as EngineLimits;

/** Model config fields (Hugging Face names) and the largest value accepted for each. */
export const MODEL_FIELD_LIMITS: Readonly<Record<ModelLimitField, number>> = ENGINE.model;

/** Planner flags and the largest value accepted for each (the engine's flag of the same meaning where there is one). */
export const PLAN_OPTION_LIMITS = {
  '--batch-size': ENGINE.run.batch_size,
  '--seq-len': ENGINE.run.seq_len,
  '--grad-accum': ENGINE.run.grad_accum,
  '--galore-update-gap': ENGINE.run.steps,
  '--alpha': ENGINE.run.alpha,
  '--gpus': 131_072,
  '--gpu-memory': 100_000,
} as const;

/** A config file larger than this is not a model config (a Llama config.json is about 1 KB). */
export const MAX_CONFIG_BYTES = ENGINE.files.config_bytes;

/** JSON nesting deeper than this is refused before parsing (configs nest 2–3 levels). */
export const MAX_JSON_DEPTH = ENGINE.files.json_depth;
