// The run schema is the one definition of a run's options: these checks fail when a name, a choice
// or a type exists on one side only (the engine's schema, the planner, the generated type, the
// extension's settings).
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PRESETS } from '../../src/core/modelConfig';
import { PLANNER_METHODS } from '../../src/core/planner/methods';
import { defaultPlanOptions } from '../../src/core/planner/plan';
import { METHODS } from '../../src/core/planner/types';
import { choicesOf, flagOf, notModelled, PLAN_ONLY_OPTIONS, RUN_OPTIONS } from '../../src/core/runSchema';

const ROOT = resolve(__dirname, '../../..');
/** Planner inputs that describe the GPU, not the run: no engine option corresponds to them. */
const PLANNER_INTERNAL = ['galoreRank', 'gpuMemoryBytes', 'hopper'];

describe('run schema', () => {
  it('the generated RunSpec type is up to date', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-run-spec.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('every planner option is a schema option, and every schema plan key a planner option', () => {
    const planKeys = [...RUN_OPTIONS.flatMap((o) => (o.plan && o.plan.key !== 'model' ? [o.plan.key] : [])),
      ...PLAN_ONLY_OPTIONS.map((o) => o.plan.key)];
    const options = Object.keys(defaultPlanOptions(PRESETS[0].config));
    assert.deepEqual([...planKeys].sort(), options.filter((k) => !PLANNER_INTERNAL.includes(k)).sort());
    assert.equal(new Set(planKeys).size, planKeys.length, 'one schema option per planner key');
  });

  it('each option is modelled or says why not', () => {
    for (const o of RUN_OPTIONS) assert.ok(o.plan || o.not_modelled, `${o.name}: add plan or not_modelled`);
    assert.ok(notModelled().every((n) => n.why.length > 0));
  });

  it('methods: the schema, the planner modules and the planner list agree', () => {
    assert.deepEqual([...METHODS], [...choicesOf('method')]);
    assert.deepEqual(Object.keys(PLANNER_METHODS).sort(), [...choicesOf('method')].sort());
  });

  it("the extension's settings enums are the schema's choices", () => {
    const props = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).contributes.configuration.properties;
    assert.deepEqual(props['sltrain.defaults.method'].enum, [...choicesOf('method')]);
    assert.deepEqual(props['sltrain.defaults.optimizer'].enum, [...choicesOf('optimizer')]);
    assert.deepEqual(props['sltrain.defaults.precision'].enum, [...choicesOf('precision')]);
  });

  it("sltrain plan takes every modelled option under the engine's flag, and the old spellings", () => {
    const help = execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'plan', '--help'], { encoding: 'utf8' });
    for (const o of RUN_OPTIONS.filter((x) => x.plan)) assert.ok(help.includes(flagOf(o.name)), `${flagOf(o.name)} in plan --help`);
    const run = (args: string[]): Record<string, unknown> =>
      JSON.parse(execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'plan', '--model', 'llama_60m', '--json', ...args], { encoding: 'utf8' })).run;
    assert.deepEqual(run(['--batch', '4', '--seq', '128', '--galore-gap', '50']),
      run(['--batch-size', '4', '--seq-len', '128', '--galore-update-gap', '50']));
  });
});
