// Config parsing and validation: one clear message per problem.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MODEL_FIELD_LIMITS } from '../../src/core/inputLimits';
import { ConfigError, findPreset, parseLlamaConfigText, PRESETS } from '../../src/core/modelConfig';

const good = {
  model_type: 'llama', hidden_size: 512, intermediate_size: 1376, num_attention_heads: 8,
  num_hidden_layers: 8, vocab_size: 32000, max_position_embeddings: 1024,
};

function problems(text: string): ConfigError {
  try {
    parseLlamaConfigText(text, 'config.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('model configs', () => {
  it('every preset of the SLTrain/GaLore configs is bundled', () => {
    for (const n of ['9m', '20m', '35m', '40m', '60m', '71m', '100m', '130m', '250m', '350m', '1b', '3b', '7b', '13b']) {
      assert.ok(findPreset(n), n);
    }
    assert.equal(findPreset('100m')?.config.vocabSize, 32100);
    assert.equal(PRESETS.find((p) => p.name === 'llama_7b')?.defaults.delta, 0.05);
  });
  it('parses a Hugging Face config', () => {
    const c = parseLlamaConfigText(JSON.stringify(good), 'config.json');
    assert.equal(c.numKeyValueHeads, 8);
    assert.equal(c.tieWordEmbeddings, false);
    assert.equal(c.maxPositionEmbeddings, 1024);
  });
  it('editor text nested too deep is refused at the bracket that goes too deep, truncated or not', () => {
    for (const tail of ['', ']'.repeat(100_000)]) {
      const e = problems(`{\n  "a": ${'['.repeat(100_000)}${tail}`);
      assert.deepEqual([e.problems[0].line, e.problems[0].column], [2, 7 + MAX_JSON_DEPTH]);
      assert.match(e.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels at line 2`));
    }
    // Brackets inside strings do not count.
    assert.equal(parseLlamaConfigText(JSON.stringify({ ...good, note: '['.repeat(1000) }), 'c').hiddenSize, 512);
  });
  it('editor text over the size limit is refused before parsing', () => {
    assert.match(problems(`${JSON.stringify(good)}${' '.repeat(MAX_CONFIG_BYTES)}`).message, new RegExp(`limit ${MAX_CONFIG_BYTES} bytes`));
  });
  it('a size field above its limit names the field, the value and the limit', () => {
    const e = problems(JSON.stringify({ ...good, num_hidden_layers: 1e9, vocab_size: MODEL_FIELD_LIMITS.vocab_size + 1 }));
    assert.deepEqual(e.problems.map((p) => p.field), ['num_hidden_layers', 'vocab_size']);
    assert.match(e.message, new RegExp(`"num_hidden_layers" is 1000000000, above the limit of ${MODEL_FIELD_LIMITS.num_hidden_layers}`));
  });
  it('malformed JSON gives the line and column', () => {
    const e = problems('{\n  "hidden_size": 512,\n  "vocab_size": ,\n}');
    assert.equal(e.problems[0].line, 3);
    assert.match(e.message, /malformed JSON at line 3, column \d+/);
  });
  it('names a missing field', () => {
    const { hidden_size: _h, ...rest } = good;
    assert.match(problems(JSON.stringify(rest)).message, /missing field "hidden_size"/);
  });
  it('names a non-integer field', () => {
    const e = problems(JSON.stringify({ ...good, num_hidden_layers: 8.5 }));
    assert.equal(e.problems[0].field, 'num_hidden_layers');
    assert.match(e.message, /must be a positive integer, got 8.5/);
  });
  it('rejects heads that do not divide the hidden size', () => {
    assert.match(problems(JSON.stringify({ ...good, num_attention_heads: 7 })).message, /num_attention_heads \(7\) must divide hidden_size \(512\)/);
  });
  it('rejects a model_type of an unsupported family in one message naming the supported ones', () => {
    const e = problems(JSON.stringify({ ...good, model_type: 'gpt2' }));
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0].field, 'model_type');
    assert.match(e.message, /model_type "gpt2" is not supported \(field "model_type"\); the supported families are llama, mistral, qwen2, qwen3/);
  });
  it('reports every problem at once', () => {
    const e = problems(JSON.stringify({ model_type: 'llama', hidden_size: 'big' }));
    assert.ok(e.problems.length >= 5);
  });
});
