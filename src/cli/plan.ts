// `sltrain plan`: the planner on the command line (flags and the --json contract: docs/contracts.md).
import { readConfigFile } from '../core/configFile';
import { findGpu, GPU_MODELS, usableBytes } from '../core/gpus';
import { ConfigError, findPreset, parseLlamaConfigText, PRESETS, type ModelConfig } from '../core/modelConfig';
import { defaultPlanOptions, plan, planAll } from '../core/planner/plan';
import { METHODS, type Method, type PlanOptions, type PlanResult } from '../core/planner/types';
import { flagKeyOf, flagOf, PLAN_ONLY_OPTIONS, RUN_OPTIONS } from '../core/runSchema';
import { validatePlanOptions } from '../core/planner/validate';
import { parseArgs, UsageError, type FlagSpec } from './args';
import { renderComparison, renderSingle } from './planFormat';
import { renderTimeline } from './timelineFormat';
import { planTimeline, type Timeline } from '../core/planner/timeline';

/** The planner's flag for a schema option: its spec from the option's type and choices. */
function flagSpec(o: { type: string; choices?: readonly string[] }): FlagSpec {
  if (o.type === 'bool') return { type: 'bool' };
  if (o.type === 'str') return o.choices ? { type: 'string', choices: o.choices } : { type: 'string' };
  return { type: 'number', integer: o.type === 'int' };
}

/** Every option the planner models, under the engine's flag name and its older planner aliases. */
const MODELLED = RUN_OPTIONS.filter((o) => o.plan && o.plan.key !== 'model' && o.name !== 'method');
const PLAN_ONLY_FLAGS = PLAN_ONLY_OPTIONS.map((o) => ({ flag: flagKeyOf(o.name), key: o.plan.key, spec: flagSpec(o) }));

const FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string' },
  method: { type: 'string', choices: [...METHODS, 'all'] },
  ...Object.fromEntries(MODELLED.flatMap((o) => [flagKeyOf(o.name), ...(o.plan!.aliases ?? [])].map((f) => [f, flagSpec(o)]))),
  ...Object.fromEntries(PLAN_ONLY_FLAGS.map((f) => [f.flag, f.spec])),
  'gpu-memory': { type: 'number' },
  gpu: { type: 'string', choices: GPU_MODELS.map((g) => g.id) },
  json: { type: 'bool' },
  timeline: { type: 'bool' },
  help: { type: 'bool' },
};

function usageOf(o: { name: string; type: string; choices?: readonly string[]; plan?: { aliases?: string[] } }): string {
  const value = o.type === 'bool' ? '' : ` ${o.choices ? o.choices.join('|') : o.name.toUpperCase()}`;
  const aliases = o.plan?.aliases?.length ? ` (or --${o.plan.aliases.join(', --')})` : '';
  return `[${flagOf(o.name)}${value}]${aliases}`;
}

export const PLAN_USAGE = `usage: sltrain plan --model PRESET|FILE|all [--method ${METHODS.join('|')}|all]
       ${MODELLED.map(usageOf).join('\n       ')}
       ${PLAN_ONLY_OPTIONS.map(usageOf).join(' ')}
       [--gpu-memory GB | --gpu ${GPU_MODELS.map((g) => g.id).join('|')}] [--timeline] [--json]
The option names are the engine's (python -m sltrain.train); --json gives each plan's engine run file as "run".
--timeline: one training step's memory event by event (each block's forward and backward, the loss, the
optimizer step), by category; with --json as "timeline" in each plan.
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
  const o: Record<string, unknown> = { method };
  const given = (names: string[]): string | undefined => {
    const present = names.filter((n) => flags.has(n));
    if (present.length > 1) throw new UsageError(`give one of --${present.join(', --')}: they are the same option.`);
    return present[0];
  };
  for (const opt of MODELLED) {
    const flag = given([flagKeyOf(opt.name), ...(opt.plan!.aliases ?? [])]);
    if (flag !== undefined) o[opt.plan!.key] = flags.get(flag);
  }
  for (const f of PLAN_ONLY_FLAGS) if (flags.has(f.flag)) o[f.key] = flags.get(f.flag);
  const str = <T extends string>(k: string): T | undefined => flags.get(k) as T | undefined;
  const num = (k: string): number | undefined => flags.get(k) as number | undefined;
  const gpuId = str<string>('gpu');
  if (gpuId && flags.has('gpu-memory')) throw new UsageError('give either --gpu or --gpu-memory, not both.');
  if (gpuId) {
    const g = findGpu(gpuId)!;
    o.gpuMemoryBytes = usableBytes(g);
    o.hopper = g.hopper;
  }
  const mem = num('gpu-memory');
  if (mem !== undefined) o.gpuMemoryBytes = mem * 1e9;
  return defaultPlanOptions(config, o as Partial<PlanOptions>);
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
    const timeline = flags.has('timeline');
    const results: (PlanResult & { timeline?: Timeline })[][] = [];
    for (const config of configs) {
      const o = optionsFrom(flags, config, method === 'all' ? 'sltrain' : method);
      const problems = validatePlanOptions(config, o);
      if (problems.length > 0) throw new UsageError(problems.join('\n'));
      const plans = method === 'all' ? planAll(config, o) : [plan(config, o)];
      results.push(timeline ? plans.map((r) => ({ ...r, timeline: planTimeline(config, r.options) })) : plans);
    }
    const json = flags.has('json');
    if (json) {
      const payload = spec === 'all' ? results : method === 'all' ? results[0] : results[0][0];
      out(JSON.stringify(payload, null, 2));
    } else {
      const text = (r: (typeof results)[number]): string => (r.length === 1 ? renderSingle(r[0]) : renderComparison(r));
      const charts = (r: (typeof results)[number]): string[] => r.map((p) => renderTimeline(p.model, p.method, p.timeline!));
      out(results.map((r) => [text(r), ...(timeline ? charts(r) : [])].join('\n\n')).join('\n\n'));
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
