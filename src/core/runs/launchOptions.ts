// What `sltrain.launch` accepts ("Launch with these settings" in the planner hands it the plan's own
// run file) and how it becomes engine flags. Pure: the extension asks the user only for what a plan
// does not decide (steps, data, where the run goes). The argument is untrusted input (a keybinding or
// another extension can pass anything), so every field is checked against the run schema and a bad
// one is refused with its name, never silently dropped.
import { plannerMethod } from '../planner/methods';
import type { Sharding } from '../planner/types';
import {
  choicesOf, flagKeyOf, flagOf, RUN_OPTIONS, shardingProblem, type OptionValue, type RunOption, type RunSpec,
} from '../runSchema';
import { MAX_PROCESSES_PER_HOST } from './processes';

export interface LaunchOptions {
  /** The engine run file: every option the plan decided, in the engine's names. */
  run: RunSpec;
  /** Data-parallel processes (GPUs) the plan is for. */
  gpus: number;
  sharding: Sharding;
  /** Planner prediction of the peak (bytes), drawn as the reference line. */
  predictedPeakBytes?: number;
}

export interface RunSpecChoices {
  steps: number;
  /** `embedded`, a path, or `hf:NAME` (engine --data). */
  data: string;
  /** `byte` or `hf:NAME` (engine --tokenizer); the engine's default when absent. */
  tokenizer?: string;
  /** Trackers picked in the dialog (engine --report-to); absent: the run file's choice stands. */
  reportTo?: readonly string[];
}

export class LaunchArgumentError extends Error {}

const TOP_KEYS = ['run', 'gpus', 'sharding', 'predictedPeakBytes'];
const SHARDINGS = choicesOf('sharding');

function checkValue(o: RunOption, v: unknown): OptionValue {
  const where = `sltrain.launch: run.${o.name}`;
  if (v === null && o.nullable) return null;
  const ok =
    o.type === 'bool' ? typeof v === 'boolean'
      : o.type === 'str' ? typeof v === 'string' && v !== ''
        : typeof v === 'number' && Number.isFinite(v) && (o.type === 'float' || Number.isInteger(v));
  const kind = { bool: 'true or false', str: 'a non-empty string', int: 'a whole number', float: 'a number' }[o.type];
  if (!ok) throw new LaunchArgumentError(`${where} must be ${kind}${o.nullable ? ' or null' : ''}; got ${JSON.stringify(v)}`);
  if (o.choices && !o.choices.includes(v as string)) {
    throw new LaunchArgumentError(`${where} must be one of ${o.choices.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return v as OptionValue;
}

/**
 * `{ run: RunSpec, gpus?, sharding?, predictedPeakBytes? }` (the planner's), or nothing (the command
 * palette: the dialog asks for the model). Throws LaunchArgumentError naming the first bad field.
 */
export function parseLaunchOptions(arg: unknown): LaunchOptions {
  if (arg === undefined || arg === null) return { run: {}, gpus: 1, sharding: 'ddp' };
  if (typeof arg !== 'object' || Array.isArray(arg)) {
    throw new LaunchArgumentError('sltrain.launch takes one object { run, gpus, sharding, predictedPeakBytes }');
  }
  const top = arg as Record<string, unknown>;
  const unknown = Object.keys(top).filter((k) => !TOP_KEYS.includes(k));
  if (unknown.length) throw new LaunchArgumentError(`sltrain.launch: unknown field ${unknown.join(', ')}; it takes ${TOP_KEYS.join(', ')}`);
  const run: Record<string, OptionValue> = {};
  if (top.run !== undefined) {
    if (typeof top.run !== 'object' || top.run === null || Array.isArray(top.run)) {
      throw new LaunchArgumentError('sltrain.launch: run must be an engine run file (an object of run options)');
    }
    for (const [k, v] of Object.entries(top.run)) {
      const o = RUN_OPTIONS.find((x) => x.name === k);
      if (!o) throw new LaunchArgumentError(`sltrain.launch: run.${k} is not an engine option (see engine/sltrain/run_schema.json)`);
      run[k] = checkValue(o, v);
    }
  }
  const gpus = top.gpus ?? 1;
  if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus < 1 || gpus > MAX_PROCESSES_PER_HOST) {
    throw new LaunchArgumentError(`sltrain.launch: gpus must be a whole number from 1 to ${MAX_PROCESSES_PER_HOST}; got ${JSON.stringify(gpus)}`);
  }
  // The plan's run file carries its sharding too; the two must agree, and the engine gets it as --sharding.
  if (top.sharding !== undefined && run.sharding !== undefined && top.sharding !== run.sharding) {
    throw new LaunchArgumentError(`sltrain.launch: sharding ${JSON.stringify(top.sharding)} and run.sharding ${JSON.stringify(run.sharding)} differ; give one of them`);
  }
  const sharding = top.sharding ?? run.sharding ?? 'ddp';
  if (typeof sharding !== 'string' || !SHARDINGS.includes(sharding)) {
    throw new LaunchArgumentError(`sltrain.launch: sharding must be one of ${SHARDINGS.join(', ')}; got ${JSON.stringify(sharding)}`);
  }
  const notRunnable = shardingProblem(gpus, sharding);
  if (notRunnable) throw new LaunchArgumentError(notRunnable);
  run.sharding = sharding;
  const out: LaunchOptions = { run: run as RunSpec, gpus, sharding: sharding as Sharding };
  const peak = top.predictedPeakBytes;
  if (peak !== undefined) {
    if (typeof peak !== 'number' || !Number.isFinite(peak) || peak < 0) {
      throw new LaunchArgumentError(`sltrain.launch: predictedPeakBytes must be a number of bytes; got ${JSON.stringify(peak)}`);
    }
    out.predictedPeakBytes = peak;
  }
  return out;
}

/** `python -m sltrain.train` flags for the run file and the confirmed steps and data, in schema order. */
export function engineArgsFor(o: LaunchOptions, spec: RunSpecChoices): string[] {
  const run: Record<string, OptionValue | undefined> = {
    model: 'llama_tiny',
    // The trackers show the planner's peak next to the measured one.
    ...(o.predictedPeakBytes !== undefined ? { predicted_peak_bytes: Math.round(o.predictedPeakBytes) } : {}),
    ...o.run, steps: spec.steps, data: spec.data, ...(spec.tokenizer ? { tokenizer: spec.tokenizer } : {}),
    ...(spec.reportTo ? { report_to: spec.reportTo.length > 0 ? spec.reportTo.join(',') : 'none' } : {}),
  };
  const args: string[] = [];
  for (const opt of RUN_OPTIONS) {
    const v = run[opt.name];
    if (v === undefined || v === null) continue;
    if (opt.type === 'bool') args.push(v ? flagOf(opt.name) : `--no-${flagKeyOf(opt.name)}`);
    else args.push(flagOf(opt.name), String(v));
  }
  return args;
}

/** A short name for the run list: "llama_60m sltrain r=128". */
export function runNameFor(o: LaunchOptions): string {
  const model = (o.run.model ?? 'llama_tiny').split('/').pop()?.replace(/\.json$/, '') ?? 'run';
  const usesRank = o.run.method === undefined || plannerMethod(o.run.method).usesRank;
  const rank = o.run.rank !== undefined && o.run.rank !== null && usesRank ? `r=${o.run.rank}` : undefined;
  return [model, o.run.method, rank, o.gpus > 1 ? `×${o.gpus}` : undefined].filter(Boolean).join(' ');
}
