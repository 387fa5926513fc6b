// Planner: APOLLO / APOLLO-Mini (rank, states, the refused 8-bit variant) and SLTrain's dynamic
// support (its regrown-entry buffer, the update's transient, option problems), against independent
// arithmetic from the model's shapes.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findPreset, type ModelConfig } from '../../src/core/modelConfig';
import { defaultPlanOptions, plan } from '../../src/core/planner/plan';
import { linearShapes, sparseNonzeros } from '../../src/core/planner/tensors';
import { runFromPlan } from '../../src/core/planner/run';
import { validatePlanOptions } from '../../src/core/planner/validate';

function preset(name: string): ModelConfig {
  const p = findPreset(name);
  assert.ok(p, name);
  return p.config;
}

describe('APOLLO in the planner', () => {
  const c = preset('llama_60m');
  it('states: two low-rank moments, the projection and two scalars per matrix; full Adam elsewhere', () => {
    for (const [method, rank] of [['apollo', defaultPlanOptions(c).galoreRank!], ['apollo_mini', 1]] as const) {
      const o = defaultPlanOptions(c, { method, precision: 'bf16' });
      const r = plan(c, o);
      let moments = 0;
      let projector = 0;
      let dense = 0;
      for (const l of linearShapes(c)) {
        const right = l.out >= l.in;
        moments += 2 * (right ? l.out : l.in) * rank;
        projector += (right ? l.in : l.out) * rank;
        dense += l.out * l.in;
      }
      const L = c.numHiddenLayers;
      const rest = r.params.trainable - dense * L;
      // bf16: 2 B an element; per matrix a 4 B step and a 2 B limiter norm; every other parameter
      // two full moments and its step.
      const restTensors = 2 * L + 1 + 2; // norms, final norm, embeddings, head
      assert.equal(r.staticBytes.projectors, projector * L * 2, method);
      assert.equal(r.staticBytes.optimizerStates, (moments * 2 + 6 * 7) * L + rest * 4 + 4 * restTensors, method);
      assert.equal(runFromPlan('llama_60m', o).rank, rank, method);
    }
  });
  it('refuses adam8bit with the fix', () => {
    const problems = validatePlanOptions(c, defaultPlanOptions(c, { method: 'apollo_mini', optimizer: 'adam8bit' }));
    assert.ok(problems.some((p) => /adam8bit is not offered for --method apollo_mini.*--optimizer adamw/.test(p)), problems.join('\n'));
  });
});

describe('SLTrain dynamic support in the planner', () => {
  const c = preset('llama_60m');
  const fixed = defaultPlanOptions(c, { precision: 'bf16' });
  const dynamic = { ...fixed, supportUpdateEvery: 100, supportUpdateFraction: 0.1 };
  it('adds floor(f * nnz) int32 positions per layer and a transient at the update', () => {
    let k = 0;
    for (const l of linearShapes(c)) k += Math.floor(0.1 * sparseNonzeros(l, fixed.delta));
    const a = plan(c, fixed);
    const b = plan(c, dynamic);
    assert.equal(b.staticBytes.indices - a.staticBytes.indices, 4 * k * c.numHiddenLayers);
    assert.equal(b.params.trainable, a.params.trainable);
    assert.ok(b.peak.phases.optimizer > a.peak.phases.optimizer);
    assert.equal(runFromPlan('llama_60m', dynamic).support_update_every, 100);
  });
  it('names bad settings', () => {
    const bad = (o: Partial<typeof dynamic>) => validatePlanOptions(c, { ...dynamic, ...o }).join('\n');
    assert.match(bad({ supportUpdateFraction: 1.5 }), /--support-update-fraction must be in \(0, 1\)/);
    assert.match(bad({ supportUpdateEvery: -1 }), /--support-update-every must be an integer >= 0/);
    assert.match(bad({ optimizer: 'adam8bit' }), /use --optimizer adamw/);
    assert.match(bad({ delta: 0.9, supportUpdateFraction: 0.5 }), /positions are off its support/);
    assert.equal(bad({}), '');
  });
});
