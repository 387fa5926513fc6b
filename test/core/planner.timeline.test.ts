// The planned timeline: its maximum is the peak (value and phase) for every preset and method across
// the options that move it; categories add up; the events follow the engine's order; the CLI's
// --timeline text chart and JSON; the changes offered for a plan that does not fit really fit.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runPlan } from '../../src/cli/plan';
import { PRESETS } from '../../src/core/modelConfig';
import { fitChanges } from '../../src/core/planner/fitChanges';
import { parseMeasuredTimeline } from '../../src/core/planner/measuredTimeline';
import { peakMemory } from '../../src/core/planner/peak';
import { defaultPlanOptions } from '../../src/core/planner/plan';
import { planTimeline, TIMELINE_CATEGORIES } from '../../src/core/planner/timeline';
import { METHODS, type PlanOptions } from '../../src/core/planner/types';
import { validatePlanOptions } from '../../src/core/planner/validate';

function* setups(): Generator<[string, PlanOptions]> {
  for (const p of PRESETS) {
    for (const method of METHODS) {
      for (const [microBatch, gradCkpt, gradAccum, perLayer, precision] of [
        [1, false, 1, false, 'bf16'], [8, true, 1, false, 'mixed'], [4, false, 2, false, 'fp32'], [2, false, 1, true, 'bf16'],
      ] as const) {
        const o = defaultPlanOptions(p.config, { method, microBatch, gradCkpt, gradAccum, perLayer, precision });
        if (validatePlanOptions(p.config, o).length === 0) yield [`${p.name} ${method} ${JSON.stringify({ microBatch, gradCkpt, gradAccum, perLayer, precision })}`, o];
      }
    }
  }
}

describe('planned timeline', () => {
  it('its maximum is the peak, value and phase, for every preset and method', () => {
    let n = 0;
    for (const [tag, o] of setups()) {
      const c = PRESETS.find((p) => tag.startsWith(`${p.name} `))!.config;
      const tl = planTimeline(c, o);
      const peak = peakMemory(c, o);
      const top = tl.events[tl.peakIndex];
      assert.equal(top.total, peak.bytes, tag);
      assert.equal(top.phase, peak.phase, tag);
      assert.ok(tl.events.every((e) => e.total === TIMELINE_CATEGORIES.reduce((s, k) => s + e.bytes[k], 0)), tag);
      assert.ok(tl.events.every((e) => TIMELINE_CATEGORIES.every((k) => e.bytes[k] >= 0)), `no negative category: ${tag}`);
      n++;
    }
    assert.ok(n > 200, `${n} setups`);
  });

  it("events in the engine's order: start, embedding, each block forward, loss, head, each block backward, optimizer", () => {
    const c = PRESETS.find((p) => p.name === 'llama_60m')!.config;
    const names = planTimeline(c, defaultPlanOptions(c, {})).events.map((e) => e.name);
    const L = c.numHiddenLayers;
    assert.deepEqual(names, [
      'step.start', 'forward.embed_tokens', ...Array.from({ length: L }, (_, i) => `forward.layers.${i}`), 'forward.loss',
      'backward.loss', 'backward.lm_head', ...Array.from({ length: L }, (_, i) => `backward.layers.${L - 1 - i}`),
      'backward.embed_tokens', 'optimizer.step',
    ]);
    const perLayer = planTimeline(c, defaultPlanOptions(c, { method: 'galore', perLayer: true })).events.at(-1)!;
    assert.equal(perLayer.name, 'optimizer.per_layer');
  });

  it('sltrain plan --timeline: a text chart with the peak marked; --json carries the events', () => {
    let out = '';
    assert.equal(runPlan(['--model', 'llama_60m', '--method', 'galore', '--timeline'], (s) => (out += s), () => undefined), 0);
    const rows = out.split('\n').filter((l) => /^(step|forward|backward|optimizer)\./.test(l));
    assert.equal(rows.filter((r) => r.includes('◀ peak')).length, 1);
    assert.match(out, /… 4 more blocks/, 'the middle blocks are folded');
    assert.match(out, /peak [0-9.]+ GB at \S+: /);
    let json = '';
    assert.equal(runPlan(['--model', 'llama_60m', '--timeline', '--json'], (s) => (json += s), () => undefined), 0);
    const plan = JSON.parse(json) as { peak: { bytes: number }; timeline: { events: { total: number }[]; peakIndex: number } };
    assert.equal(plan.timeline.events[plan.timeline.peakIndex].total, plan.peak.bytes);
    let plain = '';
    runPlan(['--model', 'llama_60m', '--json'], (s) => (plain += s), () => undefined);
    assert.equal((JSON.parse(plain) as { timeline?: unknown }).timeline, undefined, 'only with --timeline');
  });

  it('a plan that does not fit: each offered change is valid and gives the peak it says; those that fit come first', () => {
    const c = PRESETS.find((p) => p.name === 'llama_1b')!.config;
    const o = defaultPlanOptions(c, { microBatch: 64, gpuMemoryBytes: 24e9 });
    const changes = fitChanges(c, o);
    assert.ok(changes.length > 2 && changes[0].fits);
    const firstMiss = changes.findIndex((x) => !x.fits);
    assert.ok(firstMiss === -1 || changes.slice(firstMiss).every((x) => !x.fits));
    for (const ch of changes) {
      const next = { ...o, ...ch.options };
      assert.deepEqual(validatePlanOptions(c, next), [], ch.label);
      assert.equal(peakMemory(c, next).bytes, ch.peakBytes, ch.label);
      assert.equal(ch.fits, ch.peakBytes <= o.gpuMemoryBytes, ch.label);
    }
    assert.ok(changes.some((x) => x.label === '--grad-ckpt'));
  });

  it("the engine's measured timeline is read field by field; anything malformed is refused whole", () => {
    const ok = parseMeasuredTimeline({ device: 'cpu', timeline: [{ name: 'step.start', module: '', allocated: null,
      bytes: { weights: 10, indices: 1, buffers: 0, optimizer_states: 20, gradients: 0, activations: 0 } }] });
    assert.equal(ok?.events[0].tensorBytes, 31);
    assert.equal(ok?.events[0].allocatedBytes, null);
    assert.equal(parseMeasuredTimeline({ timeline: [{ name: 'x', bytes: { weights: -1 } }] }), undefined);
    assert.equal(parseMeasuredTimeline({ device: 'cpu' }), undefined);
    assert.equal(parseMeasuredTimeline('nope'), undefined);
  });
});
