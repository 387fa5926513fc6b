// `sltrain plan` as a user meets it: flags, --json fields, golden tables and exit code 2 on bad input.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runPlan } from '../../src/cli/plan';

const GOLDEN = join(__dirname, '..', '..', '..', 'test', 'core', 'golden');

function run(args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runPlan(args, (s) => (out += `${s}\n`), (s) => (err += `${s}\n`));
  return { code, out, err };
}

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sltrain-plan-'));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('sltrain plan', () => {
  it('--json carries the contract fields for one method', () => {
    const r = run(['--model', 'llama_60m', '--method', 'sltrain', '--json']);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out);
    for (const path of ['params.total', 'params.trainable', 'params.sparseNonzeros', 'estimate.weightsBytes',
      'estimate.optimizerBytes', 'estimate.totalBytes', 'peak.bytes', 'peak.phase', 'peak.breakdown',
      'fits.gpuMemoryBytes', 'fits.fits', 'fits.maxMicroBatch']) {
      const v = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], j);
      assert.notEqual(v, undefined, path);
    }
    assert.equal(j.options.seqLen, 256);
    assert.equal(j.options.precision, 'bf16');
    assert.equal(j.options.rank, 128);
  });
  it('--method all gives one plan per method, in the run schema\'s order', () => {
    const j = JSON.parse(run(['--model', 'llama_130m', '--method', 'all', '--json']).out);
    assert.deepEqual(j.map((r: { method: string }) => r.method), ['full', 'lowrank', 'relora', 'galore', 'sltrain', 'apollo', 'apollo_mini']);
  });
  it('reads a Hugging Face config.json', () => {
    const cfg = { model_type: 'llama', hidden_size: 512, intermediate_size: 1376, num_attention_heads: 8,
      num_hidden_layers: 8, vocab_size: 32000 };
    const j = JSON.parse(run(['--model', tmpFile('config.json', JSON.stringify(cfg)), '--method', 'full', '--json']).out);
    assert.equal(j.params.total, 58_073_600);
  });
  for (const [name, args] of [
    ['table-60m-all', ['--model', 'llama_60m', '--method', 'all']],
    ['table-7b-sltrain-8bit', ['--model', 'llama_7b', '--optimizer', 'adam8bit', '--per-layer', '--gpu', 'rtx4090']],
  ] as Array<[string, string[]]>) {
    it(`golden output: ${name}`, () => {
      const r = run(args);
      assert.equal(r.code, 0);
      const file = join(GOLDEN, `${name}.txt`);
      if (process.env.UPDATE_GOLDEN) writeFileSync(file, r.out);
      assert.equal(r.out, readFileSync(file, 'utf8'));
    });
  }
  const bad: Array<[string, string[], RegExp]> = [
    ['unknown preset', ['--model', 'llama_999m'], /neither a preset nor a readable file/],
    ['malformed JSON', ['--model', 'BROKEN'], /malformed JSON at line 2, column/],
    ['not a supported family', ['--model', 'GPT2'], /model_type "gpt2" is not supported \(field "model_type"\); the supported families are llama, mistral, qwen2, qwen3/],
    ['missing --model', [], /--model is required/],
    ['unknown flag', ['--model', 'llama_60m', '--rnak', '4'], /unknown option --rnak/],
    ['bad choice', ['--model', 'llama_60m', '--precision', 'fp8'], /--precision must be one of/],
    ['non-number', ['--model', 'llama_60m', '--batch', 'lots'], /--batch must be a number/],
    ['delta out of range', ['--model', 'llama_60m', '--delta', '1.5'], /--delta must be in \(0, 1\)/],
    ['rank too big', ['--model', 'llama_60m', '--rank', '4096'], /above the smallest linear dimension/],
    ['per-layer with DDP', ['--model', 'llama_60m', '--per-layer', '--gpus', '2'], /--per-layer cannot be combined/],
    ['int16 columns too narrow', ['--model', 'WIDE', '--method', 'sltrain', '--index-dtype', 'int16'], /int16 cannot address 40000 input columns/],
    ['unknown index dtype', ['--model', 'llama_60m', '--index-dtype', 'uint8'], /--index-dtype must be one of/],
  ];
  for (const [name, args, re] of bad) {
    it(`bad input exits 2: ${name}`, () => {
      const fixed = args.map((a) =>
        a === 'BROKEN' ? tmpFile('config.json', '{\n  "hidden_size": 512,,\n}')
          : a === 'GPT2' ? tmpFile('config.json', JSON.stringify({ model_type: 'gpt2', n_embd: 768 }))
            : a === 'WIDE' ? tmpFile('config.json', JSON.stringify({ model_type: 'llama', hidden_size: 256, intermediate_size: 40000,
              num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 1000 })) : a);
      const r = run(fixed);
      assert.equal(r.code, 2);
      assert.match(r.err, re);
      assert.equal(r.out, '');
    });
  }
});
