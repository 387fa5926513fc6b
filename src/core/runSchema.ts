// The run schema: every option of a training run, owned by the engine (engine/sltrain/run_schema.json,
// as presets.json is) and read here, so the planner's flags, the run file a plan carries, the
// settings enums and the panel's choice lists use the engine's names and choices, spelled once.
import schemaJson from '../../engine/sltrain/run_schema.json';
import type { PlanOptions } from './planner/types';
export type { RunSpec } from './runSpec.generated';

export type OptionType = 'str' | 'int' | 'float' | 'bool';
export type OptionValue = string | number | boolean | null;

export interface RunOption {
  /** The engine's name (snake_case): the run file's key; the flag is --name-with-dashes. */
  name: string;
  type: OptionType;
  /** The engine's default; null means resolved at start (from the preset, the device, the machine). */
  default: OptionValue;
  nullable?: boolean;
  choices?: string[];
  /** For a comma-separated list option (report_to): the names an item may take. */
  items?: string[];
  unit?: string;
  group: string;
  help: string;
  /** Part of what `python -m sltrain.measure` takes. */
  measure?: boolean;
  /** The planner option that models it, and older planner flag spellings still accepted. */
  plan?: { key: keyof PlanOptions | 'model'; aliases?: string[] };
  /** Why the planner does not model it (shown as "not modelled" beside a plan). */
  not_modelled?: string;
}

/** A planner option that decides a launch's process layout rather than an engine setting. */
export interface PlanOnlyOption {
  name: string;
  type: OptionType;
  default: OptionValue;
  choices?: string[];
  /** Choices a launch can run today; the others are planned only, for the reason in `not_runnable`. */
  runnable?: string[];
  not_runnable?: string;
  help: string;
  plan: { key: keyof PlanOptions; aliases?: string[] };
}

interface Schema {
  options: RunOption[];
  plan_only: PlanOnlyOption[];
}

const SCHEMA = schemaJson as unknown as Schema;

export const RUN_OPTIONS: readonly RunOption[] = SCHEMA.options;
export const PLAN_ONLY_OPTIONS: readonly PlanOnlyOption[] = SCHEMA.plan_only;

/** --batch-size for batch_size: the engine's flag for an option. */
export function flagOf(name: string): string {
  return `--${name.replace(/_/g, '-')}`;
}

export function runOption(name: string): RunOption {
  const o = RUN_OPTIONS.find((x) => x.name === name);
  if (!o) throw new Error(`no run option "${name}" in the run schema`);
  return o;
}

/** The choices of an option of either table (methods, optimizers, precisions, index layouts, sharding). */
export function choicesOf(name: string): readonly string[] {
  const o = RUN_OPTIONS.find((x) => x.name === name) ?? PLAN_ONLY_OPTIONS.find((x) => x.name === name);
  if (!o?.choices) throw new Error(`run option "${name}" has no choices`);
  return o.choices;
}

/** The names a list option's items may take (the trackers of --report-to). */
export function itemsOf(name: string): readonly string[] {
  const items = runOption(name).items;
  if (!items) throw new Error(`run option "${name}" is not a list of names`);
  return items;
}

/** The flag (engine spelling) a planner option is given by, for messages about planner options. */
export function flagOfPlanKey(key: keyof PlanOptions): string {
  const o = RUN_OPTIONS.find((x) => x.plan?.key === key) ?? PLAN_ONLY_OPTIONS.find((x) => x.plan.key === key);
  return o ? flagOf(o.name) : `--${String(key)}`;
}

/** Options the planner does not model, with the reason: listed beside a plan, never silently dropped. */
export function notModelled(): Array<{ name: string; flag: string; why: string }> {
  return RUN_OPTIONS.filter((o) => !o.plan).map((o) => ({ name: o.name, flag: flagOf(o.name), why: o.not_modelled ?? '' }));
}

/**
 * Why a layout of `gpus` processes sharded as `sharding` cannot be launched yet (naming the option),
 * or undefined when it can. On one GPU nothing is sharded, so any choice runs.
 */
export function shardingProblem(gpus: number, sharding: string): string | undefined {
  const opt = runOption('sharding') as RunOption & Pick<PlanOnlyOption, 'runnable' | 'not_runnable'>;
  if (gpus <= 1 || opt.runnable!.includes(sharding)) return undefined;
  return `${flagOf(opt.name)} ${sharding}: ${opt.not_runnable}`;
}

/** `--batch-size` without its dashes: the key of a parsed flag. */
export function flagKeyOf(name: string): string {
  return flagOf(name).slice(2);
}
