// `sltrain plan` against inputs that are not model configs: special files, huge or deeply nested
// JSON, bytes that are not UTF-8, absurd sizes. Each runs the real CLI in a child process with a
// watchdog (a regression that hangs fails instead of stalling the suite) and reports its peak memory.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MODEL_FIELD_LIMITS, PLAN_OPTION_LIMITS } from '../../src/core/inputLimits';

const MAIN_JS = resolve(__dirname, '../../src/cli/main.js');
/** Far longer than the CLI needs (milliseconds), so a loaded machine never trips it; a hang does. */
const WATCHDOG_MS = 60_000;
/** The CLI's peak resident memory on a refused input: Node itself is about 50 MiB. */
const MAX_RSS_KIB = 200 * 1024;

// Prints the process's peak RSS on exit, then runs the CLI's entry point with the given arguments.
const WRAPPER = `process.on('exit', () => process.stderr.write('\\nMAXRSS_KIB ' + process.resourceUsage().maxRSS + '\\n'));
require(${JSON.stringify(MAIN_JS)});`;

interface Result { code: number | null; err: string; out: string; maxRssKiB: number; timedOut: boolean }

function plan(args: string[]): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['-e', WRAPPER, '--', '_', 'plan', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, WATCHDOG_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const m = /MAXRSS_KIB (\d+)/.exec(err);
      done({ code, out, err: err.replace(/\nMAXRSS_KIB \d+\n/, ''), maxRssKiB: m ? Number(m[1]) : Infinity, timedOut });
    });
  });
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'sltrain-hostile-'));
}

function configFile(text: string | Buffer): string {
  const p = join(tmp(), 'config.json');
  writeFileSync(p, text);
  return p;
}

const LLAMA = { model_type: 'llama', hidden_size: 512, intermediate_size: 1376, num_attention_heads: 8, num_hidden_layers: 8, vocab_size: 32000 };

async function refused(args: string[], message: RegExp): Promise<void> {
  const r = await plan(args);
  assert.equal(r.timedOut, false, `sltrain plan ${args.join(' ')} did not finish within ${WATCHDOG_MS} ms`);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at /, 'a stack trace reached the user');
  assert.equal(r.out, '');
  assert.ok(r.maxRssKiB < MAX_RSS_KIB, `peak memory ${r.maxRssKiB} KiB`);
  console.log(`  plan ${args.slice(1).join(' ').slice(-60)}: exit 2, peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB`);
}

describe('sltrain plan refuses hostile inputs with exit 2, a message and bounded memory', () => {
  it('a config with num_hidden_layers 1e9', async () => {
    await refused(['--model', configFile(JSON.stringify({ ...LLAMA, num_hidden_layers: 1e9 }))],
      new RegExp(`"num_hidden_layers" is 1000000000, above the limit of ${MODEL_FIELD_LIMITS.num_hidden_layers}`));
  });
  it('every other size field of the config', async () => {
    for (const field of ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'max_position_embeddings'] as const) {
      const limit = MODEL_FIELD_LIMITS[field];
      await refused(['--model', configFile(JSON.stringify({ ...LLAMA, [field]: limit * 2 }))],
        new RegExp(`"${field}" is ${limit * 2}, above the limit of ${limit}`));
    }
  });
  it('/dev/zero and /dev/urandom, directly and through a symlink', async () => {
    for (const dev of ['/dev/zero', '/dev/urandom']) {
      await refused(['--model', dev], /is a character device, not a config file/);
      const link = join(tmp(), 'config.json');
      symlinkSync(dev, link);
      await refused(['--model', link], /is a character device, not a config file/);
    }
  });
  it('a FIFO with no writer', async (t) => {
    const fifo = join(tmp(), 'config.json');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    await refused(['--model', fifo], /is a FIFO \(named pipe\), not a config file/);
  });
  it('a directory', async () => {
    await refused(['--model', tmp()], /is a directory, not a config file/);
  });
  it('a file over the size limit', async () => {
    await refused(['--model', configFile(`${JSON.stringify(LLAMA)}${' '.repeat(MAX_CONFIG_BYTES)}`)], new RegExp(`larger than ${MAX_CONFIG_BYTES} bytes`));
  });
  it('deeply nested JSON, valid and truncated', async () => {
    const depth = 200_000;
    const deeper = `nested deeper than ${MAX_JSON_DEPTH} levels`;
    await refused(['--model', configFile(`${'['.repeat(depth)}${']'.repeat(depth)}`)], new RegExp(`${deeper} at line 1, column ${MAX_JSON_DEPTH + 1}`));
    await refused(['--model', configFile(`{"a":${'['.repeat(depth)}`)], new RegExp(deeper));
  });
  it('bytes that are not UTF-8', async () => {
    const text = Buffer.concat([Buffer.from('{\n  "model_type": "llama",\n  "name": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"\n}')]);
    await refused(['--model', configFile(text)], /not UTF-8 text \(byte 0xff at offset 38, line 3\)/);
  });
  it('planner flags above their limits', async () => {
    for (const [flag, limit] of Object.entries(PLAN_OPTION_LIMITS)) {
      if (flag === '--seq-len') continue; // bounded by the model's max_position_embeddings first
      await refused(['--model', 'llama_60m', flag, String(limit * 10)], new RegExp(`${flag} ${limit * 10} is above the limit of ${limit}`));
    }
    await refused(['--model', 'llama_60m', '--seq', '1e8'], /--seq-len 100000000 is longer than the model's max_position_embeddings/);
  });
  it('accepts a 70B-class config within every limit', async () => {
    const llama70b = { model_type: 'llama', hidden_size: 8192, intermediate_size: 28672, num_attention_heads: 64,
      num_key_value_heads: 8, num_hidden_layers: 80, vocab_size: 128256, max_position_embeddings: 131072 };
    const r = await plan(['--model', configFile(JSON.stringify(llama70b)), '--method', 'full', '--gpus', '1024', '--sharding', 'fsdp', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(MAIN_JS));
    assert.ok(JSON.parse(r.out).params.total > 68e9);
  });
});
