// Planner benchmark: one plan, and every preset × every method (with the fit search), timed over
// repetitions. Prints a table and writes JSON (path from argv[2]). A benchmark, not a test.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpus } from 'node:os';
import { PRESETS, findPreset } from '../src/core/modelConfig';
import { defaultPlanOptions, plan, planAll } from '../src/core/planner/plan';

function timeIt(fn: () => void, reps: number): { medianMs: number; minMs: number } {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], minMs: times[0] };
}

const c1b = findPreset('llama_1b')!.config;
const one = timeIt(() => plan(c1b, defaultPlanOptions(c1b)), 50);
const matrix = timeIt(() => {
  for (const p of PRESETS) planAll(p.config, defaultPlanOptions(p.config));
}, 20);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  onePlan1bMs: one,
  allPresetsAllMethodsMs: matrix,
  plans: PRESETS.length * 5,
  goalMs: 50,
};
console.log(`one plan (llama_1b, sltrain, incl. fit search): median ${one.medianMs.toFixed(2)} ms`);
console.log(`all ${result.plans} plans (${PRESETS.length} presets x 5 methods): median ${matrix.medianMs.toFixed(2)} ms (goal < 50 ms)`);
const out = process.argv[2];
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
