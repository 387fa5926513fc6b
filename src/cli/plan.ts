// `sltrain plan`: the planner on the command line (flags and the --json contract: docs/contracts.md).
import { readConfigFile } from '../core/configFile';
import { findGpu, GPU_MODELS, usableBytes } from '../core/gpus';
import { ConfigError, findPreset, parseLlamaConfigText, PRESETS, type ModelConfig } from '../core/modelConfig';
import { defaultPlanOptions, plan, planAll } from '../core/planner/plan';
import { METHODS, type Method, type PlanOptions, type PlanResult } from '../core/planner/types';
import { validatePlanOptions } from '../core/planner/validate';
import { parseArgs, UsageError, type FlagSpec } from './args';
import { renderComparison, renderSingle } from './planFormat';

const FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string' },
  method: { type: 'string', choices: [...METHODS, 'all'] },
  rank: { type: 'number' },
  delta: { type: 'number' },
  alpha: { type: 'number' },
  optimizer: { type: 'string', choices: ['adamw', 'adam8bit'] },
  'per-layer': { type: 'bool' },
  precision: { type: 'string', choices: ['bf16', 'fp32', 'mixed'] },
  batch: { type: 'number' },
  seq: { type: 'number' },
  'grad-accum': { type: 'number' },
  'grad-ckpt': { type: 'bool' },
  gpus: { type: 'number' },
  sharding: { type: 'string', choices: ['ddp', 'zero1', 'zero2', 'zero3', 'fsdp'] },
  'index-dtype': { type: 'string', choices: ['auto', 'int16', 'int32', 'int64'] },
  'gpu-memory': { type: 'number' },
  gpu: { type: 'string', choices: GPU_MODELS.map((g) => g.id) },
  'galore-gap': { type: 'number' },
  json: { type: 'bool' },
  help: { type: 'bool' },
};

export const PLAN_USAGE = `usage: sltrain plan --model PRESET|FILE|all [--method full|lowrank|relora|galore|sltrain|all]
       [--rank R] [--delta D] [--alpha A] [--optimizer adamw|adam8bit] [--per-layer]
       [--precision bf16|fp32|mixed] [--batch B] [--seq S] [--grad-accum K] [--grad-ckpt]
       [--gpus N] [--sharding ddp|zero1|zero2|zero3|fsdp] [--index-dtype auto|int16|int32|int64]
       [--gpu-memory GB | --gpu ${GPU_MODELS.map((g) => g.id).join('|')}] [--galore-gap STEPS] [--json]
presets: ${PRESETS.map((p) => p.name).join(', ')}
GB = 1e9 bytes (the papers' unit); GiB = 2^30 bytes.`;

/** A preset name or a path to a Hugging Face config.json. */
export function loadModel(spec: string): ModelConfig {
  const preset = findPreset(spec);
  if (preset) return preset.config;
  let text: string;
  try {
    text = readConfigFile(spec);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new UsageError(
      `--model "${spec}" is neither a preset nor a readable file. Presets: ${PRESETS.map((p) => p.name).join(', ')}.`,
    );
  }
  return parseLlamaConfigText(text, spec);
}

function optionsFrom(flags: Map<string, string | number | boolean>, config: ModelConfig, method: Method): PlanOptions {
  const o: Partial<PlanOptions> = { method };
  const num = (k: string): number | undefined => flags.get(k) as number | undefined;
  const str = <T extends string>(k: string): T | undefined => flags.get(k) as T | undefined;
  const set = <K extends keyof PlanOptions>(key: K, v: PlanOptions[K] | undefined): void => {
    if (v !== undefined) o[key] = v;
  };
  set('rank', num('rank'));
  set('delta', num('delta'));
  set('alpha', num('alpha'));
  set('optimizer', str('optimizer'));
  set('precision', str('precision'));
  set('microBatch', num('batch'));
  set('seqLen', num('seq'));
  set('gradAccum', num('grad-accum'));
  set('gpus', num('gpus'));
  set('sharding', str('sharding'));
  set('indexDtype', str('index-dtype'));
  set('galoreUpdateGap', num('galore-gap'));
  if (flags.has('per-layer')) o.perLayer = true;
  if (flags.has('grad-ckpt')) o.gradCkpt = true;
  const gpuId = str<string>('gpu');
  if (gpuId && flags.has('gpu-memory')) throw new UsageError('give either --gpu or --gpu-memory, not both.');
  if (gpuId) {
    const g = findGpu(gpuId)!;
    o.gpuMemoryBytes = usableBytes(g);
    o.hopper = g.hopper;
  }
  const mem = num('gpu-memory');
  if (mem !== undefined) o.gpuMemoryBytes = mem * 1e9;
  return defaultPlanOptions(config, o);
}

/** Runs `sltrain plan`; returns the exit code (2 for bad input). */
export function runPlan(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  try {
    const { flags, positional } = parseArgs(argv, FLAGS);
    if (flags.has('help')) {
      out(PLAN_USAGE);
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}".`);
    const spec = flags.get('model') as string | undefined;
    if (!spec) throw new UsageError('--model is required (a preset such as llama_60m, a config.json, or "all").');
    const method = (flags.get('method') as Method | 'all' | undefined) ?? (spec === 'all' ? 'all' : 'sltrain');
    const configs = spec === 'all' ? PRESETS.filter((p) => p.name !== 'llama_tiny').map((p) => p.config) : [loadModel(spec)];
    const results: PlanResult[][] = [];
    for (const config of configs) {
      const o = optionsFrom(flags, config, method === 'all' ? 'sltrain' : method);
      const problems = validatePlanOptions(config, o);
      if (problems.length > 0) throw new UsageError(problems.join('\n'));
      results.push(method === 'all' ? planAll(config, o) : [plan(config, o)]);
    }
    const json = flags.has('json');
    if (json) {
      const payload = spec === 'all' ? results : method === 'all' ? results[0] : results[0][0];
      out(JSON.stringify(payload, null, 2));
    } else {
      out(results.map((r) => (r.length === 1 ? renderSingle(r[0]) : renderComparison(r))).join('\n\n'));
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      err(`sltrain plan: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
