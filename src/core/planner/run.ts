// The engine run file a plan carries: every option the planner models, with the planned value, under
// the engine's names (the run schema). Options it does not model are left out, so the engine's
// defaults (or the launch dialog) decide them; `notModelled()` lists them beside the plan.
import { RUN_OPTIONS, type OptionValue, type RunSpec } from '../runSchema';
import { plannerMethod } from './methods';
import type { PlanOptions } from './types';

export function runFromPlan(model: string, o: PlanOptions): RunSpec {
  const run: Record<string, OptionValue> = {};
  for (const opt of RUN_OPTIONS) {
    if (!opt.plan) continue;
    run[opt.name] = opt.plan.key === 'model' ? model : (o[opt.plan.key] as OptionValue);
  }
  // The engine has one rank per run; a method may plan with its own (GaLore's scripts' projection rank).
  run.rank = plannerMethod(o.method).engineRank?.(o) ?? o.rank;
  return run as unknown as RunSpec;
}
