// Model families: what a config.json of llama (Llama 3.x), mistral, qwen2 and qwen3 resolves to, the
// parameter counts against transformers' own classes (built on the meta device by the engine's
// Python), and one clear refusal per unsupported family or feature, naming the field.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FAMILY_NAMES } from '../../src/core/families';
import { ConfigError, defaultsFor, findPreset, parseLlamaConfigText, PRESETS, type ModelConfig } from '../../src/core/modelConfig';
import { countParams, defaultPlanOptions } from '../../src/core/planner/plan';

const ROOT = join(__dirname, '..', '..', '..');
const PY = join(ROOT, 'engine', '.venv', 'bin', 'python');
const FIXTURES = ['llama3', 'mistral', 'qwen2', 'qwen3'].map((f) => join(ROOT, 'test', 'parity', 'families', `${f}.json`));
const NEW_PRESETS = PRESETS.filter((p) => p.config.modelType !== 'llama' || p.name.includes('.'));

const base = { hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, vocab_size: 100 };

function refusal(extra: Record<string, unknown>): ConfigError {
  try {
    parseLlamaConfigText(JSON.stringify({ ...base, ...extra }), 'config.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  assert.fail(`expected a refusal of ${JSON.stringify(extra)}`);
}

/** transformers' parameter count of each config, its model built on the meta device. */
function transformersCounts(configs: Array<Record<string, unknown>>): number[] {
  const script = [
    'import json, sys, torch, transformers',
    'for c in json.load(sys.stdin):',
    '    conf = transformers.AutoConfig.for_model(**c)',
    '    with torch.device("meta"):',
    '        m = transformers.AutoModelForCausalLM.from_config(conf)',
    '    print(sum(p.numel() for p in m.parameters()))',
  ].join('\n');
  const out = execFileSync(PY, ['-c', script], { input: JSON.stringify(configs), stdio: ['pipe', 'pipe', 'inherit'] });
  return out.toString().trim().split('\n').map(Number);
}

function hasTransformers(): boolean {
  if (!existsSync(PY)) return false;
  try {
    execFileSync(PY, ['-c', 'import transformers'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('model families', () => {
  it('the presets of the official shapes are bundled under their usual names', () => {
    for (const [spec, name] of [['llama3.2-1b', 'llama3.2_1b'], ['llama3.2-3b', 'llama3.2_3b'], ['llama3.1-8b', 'llama3.1_8b'],
      ['Qwen2.5-0.5B', 'qwen2.5_0.5b'], ['qwen2.5-1.5b', 'qwen2.5_1.5b'], ['Qwen3-0.6B', 'qwen3_0.6b'], ['qwen3-1.7b', 'qwen3_1.7b'],
      ['mistral-7b', 'mistral_7b']]) {
      assert.equal(findPreset(spec)?.name, name, spec);
    }
    assert.match(findPreset('qwen3-0.6b')!.source, /official config's shapes \(no weights\).*this project's defaults/);
  });

  it('each family resolves its own switches', () => {
    const q3 = findPreset('qwen3_0.6b')!.config;
    assert.deepEqual([q3.modelType, q3.headDim, q3.qkNorm, q3.qkvBias, q3.tieWordEmbeddings], ['qwen3', 128, true, false, true]);
    const q2 = findPreset('qwen2.5_0.5b')!.config;
    assert.deepEqual([q2.qkvBias, q2.oBias, q2.mlpBias, q2.slidingLayers], [true, false, false, []]);
    const mi = findPreset('mistral_7b')!.config;
    assert.equal(mi.slidingWindow, 4096);
    assert.equal(mi.slidingLayers.length, 32);
    const l3 = findPreset('llama3.2_1b')!.config;
    assert.deepEqual([l3.headDim, l3.numKeyValueHeads, l3.tieWordEmbeddings], [64, 8, true]);
    const qwenWindows = parseLlamaConfigText(JSON.stringify({ ...base, model_type: 'qwen2', use_sliding_window: true, sliding_window: 16, max_window_layers: 1 }), 'c');
    assert.deepEqual(qwenWindows.slidingLayers, [1]);
    const absent = parseLlamaConfigText(JSON.stringify({ ...base, model_type: 'qwen3' }), 'c');
    assert.equal(absent.headDim, 128); // transformers' Qwen3Config default when the field is absent
  });

  it('a published config that is not a preset gets a rank its narrowest linear allows', () => {
    const text = JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'engine', 'sltrain', 'presets.json'), 'utf8')).presets['qwen2.5_0.5b'].config);
    const c = parseLlamaConfigText(text, 'Qwen2.5-0.5B/config.json');
    assert.equal(defaultsFor(c).rank, 128); // k/v are 2 heads x 64 wide; hidden/4 would be 224
  });

  it('an unsupported family or feature gets one message naming the field', () => {
    for (const t of ['mixtral', 'qwen2_moe', 'deepseek_v3', 'gemma', 'phi3', 'bert']) {
      const e = refusal({ model_type: t });
      assert.equal(e.problems.length, 1, t);
      assert.equal(e.problems[0].field, 'model_type');
      for (const f of FAMILY_NAMES) assert.ok(e.message.includes(f), e.message);
    }
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ hidden_act: 'gelu' }, 'hidden_act', /"hidden_act" is "gelu", which the engine does not build/],
      [{ partial_rotary_factor: 0.5 }, 'partial_rotary_factor', /partial_rotary_factor = 1/],
      [{ model_type: 'qwen2', use_mrope: true }, 'use_mrope', /"use_mrope" is true/],
      [{ rope_scaling: { rope_type: 'longrope', factor: 2 } }, 'rope_scaling', /rope_type "longrope", which is not supported; use one of default, linear, dynamic, llama3, yarn/],
      [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'rope_scaling', /needs "low_freq_factor"/],
      [{ model_type: 'qwen3', head_dim: 7 }, 'head_dim', /"head_dim" must be an even integer/],
      [{ model_type: 'qwen2', use_sliding_window: true, layer_types: ['full_attention'] }, 'layer_types', /must list 2 entries/],
      [{ model_type: 'mistral', sliding_window: 0 }, 'sliding_window', /positive integer or null/],
      [{ model_type: 'llama', attention_bias: 'yes' }, 'attention_bias', /must be true or false/],
    ];
    for (const [extra, field, message] of cases) {
      const e = refusal(extra);
      assert.equal(e.problems[0].field, field, JSON.stringify(extra));
      assert.match(e.message, message);
    }
  });

  it('parameter counts equal transformers for every family and preset', { skip: hasTransformers() ? false : 'needs the engine venv with transformers (make venv)' }, () => {
    const configs: ModelConfig[] = [];
    const raw: Array<Record<string, unknown>> = [];
    const presetsJson = JSON.parse(readFileSync(join(ROOT, 'engine', 'sltrain', 'presets.json'), 'utf8')).presets;
    for (const p of [...NEW_PRESETS, findPreset('llama_60m')!]) {
      configs.push(p.config);
      raw.push(presetsJson[p.name].config);
    }
    for (const f of FIXTURES) {
      const text = readFileSync(f, 'utf8');
      configs.push(parseLlamaConfigText(text, f));
      raw.push(JSON.parse(text));
    }
    const theirs = transformersCounts(raw);
    configs.forEach((c, i) => {
      const ours = countParams(c, defaultPlanOptions(c, { method: 'full' }));
      assert.equal(ours.total, theirs[i], c.name);
    });
    // The published totals, as a check on the shapes themselves.
    const total = (n: string): number => countParams(findPreset(n)!.config, defaultPlanOptions(findPreset(n)!.config, { method: 'full' })).total;
    assert.equal(total('qwen2.5_0.5b'), 494_032_768);
    assert.equal(total('llama3.2_1b'), 1_235_814_400);
    assert.equal(total('llama3.1_8b'), 8_030_261_248);
    assert.equal(total('mistral_7b'), 7_241_732_096);
  });
});
