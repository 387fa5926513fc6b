// The papers'-convention estimate against numbers the papers and our issue tracker state in words.
// Where a published figure disagrees with the stated convention, the arithmetic is in the comment.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findPreset } from '../../src/core/modelConfig';
import { defaultPlanOptions, plan } from '../../src/core/planner/plan';
import type { PlanOptions } from '../../src/core/planner/types';

function planOf(name: string, o: Partial<PlanOptions>): ReturnType<typeof plan> {
  const c = findPreset(name)!.config;
  return plan(c, defaultPlanOptions(c, o));
}

describe("papers' published figures", () => {
  it('LLaMA 7B full rank in bf16: "about 42 GB: 14 GB of weights and 28 GB of Adam states"', () => {
    // The SLTrain paper's introduction rounds the parameter count to 7e9: 7e9 · 2 B = 14 GB and 2 · 7e9 · 2 B = 28 GB.
    // The exact count is 6,738,415,616, so the same convention gives 13.48 GB + 26.95 GB = 40.43 GB;
    // the published 42 GB is the rounding of the parameter count, not a different convention.
    const r = planOf('llama_7b', { method: 'full' });
    assert.equal(r.estimate.weightsBytes, 2 * 6_738_415_616);
    assert.equal(r.estimate.optimizerBytes, 4 * 6_738_415_616);
    assert.equal(Math.round((7e9 * 2) / 1e9), 14);
    assert.ok(Math.abs(r.estimate.totalBytes / 1e9 - 40.43) < 0.01);
  });
  it('SLTrain 8-bit: trainable weights and 8-bit states are about 2.6 GB at 1B and 12.6 GB at 7B', () => {
    // bf16 weights of the trainable parameters plus bitsandbytes states (1 B per element per moment
    // plus an fp32 absmax per 256-element block).
    for (const [name, gb, tol] of [['llama_1b', 2.6, 0.05], ['llama_7b', 12.6, 0.1]] as const) {
      const r = planOf(name, { method: 'sltrain', optimizer: 'adam8bit', perLayer: true });
      const floor = (r.staticBytes.weights + r.staticBytes.optimizerStates) / 1e9;
      assert.ok(Math.abs(floor - gb) <= tol, `${name}: ${floor.toFixed(2)} GB`);
    }
  });
  it('SLTrain reduces the parameter count by at least 42 % at 350M and 45 % at 1B', () => {
    // The paper's text says 42 % and 45 %. With the presets' rank/delta our exact counts give
    // 1 - 194.4M/368.0M = 47.2 % and 1 - 646.0M/1339.1M = 51.8 %: larger than the stated figures, and
    // we know of no counting convention that yields them, so only the lower bound is asserted.
    for (const [name, pct] of [['llama_350m', 42], ['llama_1b', 45]] as const) {
      const full = planOf(name, { method: 'full' }).params.total;
      const sl = planOf(name, { method: 'sltrain' }).params.total;
      const saving = 100 * (1 - sl / full);
      assert.ok(saving >= pct, `${name}: ${saving.toFixed(1)} %`);
    }
  });
});
