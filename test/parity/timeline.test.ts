// The planned timeline of one training step against the engine's measured one on CPU
// (`sltrain.measure --timeline`), event by event: the same events in the same order; weights,
// indices, optimizer states and gradients to the byte; saved activations within 2 % wherever a
// tensor-storage count can see them (forward, and after each block's backward). The loss's and the
// optimizer's transients are only on a GPU's allocator; the planned peak is the timeline's maximum.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/cli/plan';
import { peakMemory } from '../../src/core/planner/peak';
import { defaultPlanOptions } from '../../src/core/planner/plan';
import { ENGINE_CATEGORIES } from '../../src/core/planner/measuredTimeline';
import { planTimeline } from '../../src/core/planner/timeline';
import type { PlanOptions } from '../../src/core/planner/types';

const ROOT = join(__dirname, '..', '..', '..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');

interface Case {
  model: string; method: PlanOptions['method']; precision: PlanOptions['precision'];
  per_layer: boolean; batch_size: number; seq_len: number; grad_ckpt?: boolean;
}
interface MeasuredEvent { name: string; phase: string; bytes: Record<string, number> }


function matrix(): Case[] {
  const base = { precision: 'fp32' as const, per_layer: false, batch_size: 2, seq_len: 64 };
  const cases: Case[] = ['full', 'lowrank', 'relora', 'galore', 'sltrain'].map((method) => ({ ...base, model: 'llama_tiny', method: method as Case['method'] }));
  cases.push({ ...base, model: 'llama_tiny', method: 'sltrain', precision: 'bf16' });
  cases.push({ ...base, model: 'llama_9m', method: 'sltrain', batch_size: 1 });
  cases.push({ ...base, model: 'llama_9m', method: 'galore', grad_ckpt: true });
  cases.push({ ...base, model: 'llama_tiny', method: 'full', per_layer: true });
  const qwen3 = join(ROOT, 'test', 'parity', 'families', 'qwen3.json');
  if (existsSync(qwen3)) cases.push({ ...base, model: qwen3, method: 'sltrain' });
  return cases;
}

function optionsOf(c: Case): PlanOptions {
  return defaultPlanOptions(loadModel(c.model), {
    method: c.method, precision: c.precision, perLayer: c.per_layer, microBatch: c.batch_size, seqLen: c.seq_len,
    gradCkpt: c.grad_ckpt ?? false,
  });
}

describe('planned timeline matches the measured one on CPU', { skip: existsSync(PY) ? false : 'run `make venv` first' }, () => {
  const cases = matrix();
  let measured: MeasuredEvent[][] = [];
  it(`measures ${cases.length} setups event by event`, () => {
    const out = execFileSync(PY, [join(ROOT, 'test', 'parity', 'measure_timelines.py')], {
      input: JSON.stringify(cases), cwd: join(ROOT, 'engine'), maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'inherit'],
    });
    measured = out.toString().trim().split('\n').map((l) => (JSON.parse(l) as { timeline: MeasuredEvent[] }).timeline);
    assert.equal(measured.length, cases.length);
  });

  it('the same events; static categories and gradients to the byte; activations within 2 %', () => {
    const worst: string[] = [];
    for (const [i, c] of cases.entries()) {
      const config = loadModel(c.model);
      const planned = planTimeline(config, optionsOf(c), undefined, undefined, true);
      const tag = `${c.model.split('/').pop()} ${c.method} ${c.precision}${c.per_layer ? ' per-layer' : ''}${c.grad_ckpt ? ' ckpt' : ''}`;
      assert.deepEqual(measured[i].map((e) => e.name), planned.events.map((e) => e.name), `events ${tag}`);
      let maxErr = 0;
      let compared = 0;
      for (const [j, m] of measured[i].entries()) {
        const p = planned.events[j];
        for (const [key, cats] of Object.entries(ENGINE_CATEGORIES)) {
          if (key === 'activations') continue; // compared below, where a storage count sees them
          // Per-layer updates free each gradient inside backward. A tied head's gradient waits in
          // autograd's buffer (alive, but not yet .grad) until the embedding's backward adds its part.
          if (key === 'gradients' && (c.per_layer || (config.tieWordEmbeddings && m.phase === 'backward' && m.name !== 'backward.embed_tokens'))) continue;
          const want = cats.reduce((s, k) => s + p.bytes[k], 0);
          assert.equal(want, m.bytes[key], `${key} at ${m.name}, ${tag}`);
        }
        const countable = m.phase === 'forward' || /^backward\.layers\./.test(m.name);
        if (!countable || m.bytes.activations === 0) continue;
        const err = Math.abs(p.bytes.activations - m.bytes.activations) / m.bytes.activations;
        maxErr = Math.max(maxErr, err);
        compared++;
        assert.ok(err <= 0.02, `activations at ${m.name}, ${tag}: planned ${p.bytes.activations}, measured ${m.bytes.activations}`);
      }
      // Every block's forward and backward at least: the comparison is never vacuous.
      assert.ok(compared >= 2 * config.numHiddenLayers, `${compared} activation readings compared for ${tag}`);
      worst.push(`${tag}: ${(maxErr * 100).toFixed(3)} % over ${compared} events`);
    }
    console.log(`largest activation error per setup: ${worst.join('; ')}`);
  });

  it("the planned peak is the timeline's maximum, at its phase", () => {
    for (const c of cases) {
      const config = loadModel(c.model);
      const o = optionsOf(c);
      const tl = planTimeline(config, o);
      const peak = peakMemory(config, o);
      assert.equal(tl.events[tl.peakIndex].total, peak.bytes, c.model);
      assert.equal(tl.events[tl.peakIndex].phase, peak.phase, c.model);
    }
  });
});
