// The flag parser's number checks: whole numbers and ranges are refused with the flag, the value and
// the bound, before any command runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs, UsageError, type FlagSpec } from '../../src/cli/args';

const SPEC: Record<string, FlagSpec> = { n: { type: 'number', integer: true, min: 1, max: 1024 }, x: { type: 'number' } };

test('numbers outside their flag\'s range or not whole are usage errors naming the bound', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--n', '1e9'], /^--n 1e9 is above the limit of 1024; use 1024 or less\.$/],
    [['--n', '0'], /^--n must be at least 1; got 0\.$/],
    [['--n', '2.5'], /^--n must be a whole number; got 2\.5\.$/],
    [['--n=Infinity'], /^--n must be a number; got "Infinity"\.$/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseArgs(argv, SPEC), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  assert.equal(parseArgs(['--n', '1024', '--x', '-1e300'], SPEC).flags.get('n'), 1024);
});

test('sltrain launch --nproc-per-node and stop --grace out of range exit 2 with the limit', async () => {
  const runsJs = resolve(__dirname, '../../src/cli/runs.js');
  for (const [cmd, args, re] of [
    ['launch', ['--nodes', 'a,b', '--nproc-per-node', '1e9', '--', '--steps', '1'], /--nproc-per-node 1e9 is above the limit of 1024/],
    ['stop', ['some-run', '--grace', '-5'], /--grace must be at least 0; got -5/],
  ] as Array<[string, string[], RegExp]>) {
    const script = `require(${JSON.stringify(runsJs)}).runRunsCommand(${JSON.stringify(cmd)}, process.argv.slice(1)).then((c) => { process.exitCode = c; })`;
    const r = await promisify(execFile)(process.execPath, ['-e', script, '--', ...args]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});
