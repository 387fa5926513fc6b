// `sltrain attach` on run folders written by someone else: events that carry terminal escape
// sequences, an events file that is a link to /dev/zero or a FIFO, an event line far over the size
// limit, and a reader that stops reading. Each runs the real CLI in a child process with a watchdog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/core/events/parser';
import { EVENTS_FILE, EXIT_CODE_FILE } from '../../src/core/runs/runFiles';
import { RUN_FILE } from '../../src/core/runs/store';

const RUNS_JS = resolve(__dirname, '../../src/cli/runs.js');
/** Far longer than attach needs on a finished run, so only a hang trips it. */
const WATCHDOG_MS = 60_000;
/** Any terminal control character except the newline that ends each printed line. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

interface Child { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> }

function attach(runsDir: string, args: string[], readStdout = true): Child {
  const script = `require(${JSON.stringify(RUNS_JS)}).runRunsCommand('attach', process.argv.slice(1)).then((c) => { process.exitCode = c; })`;
  const child = spawn(process.execPath, ['-e', script, ...args], {
    env: { ...process.env, SLTRAIN_RUNS_DIR: runsDir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const collect = (): void => void child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  if (readStdout) collect();
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, WATCHDOG_MS);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }>((res) => {
    child.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr, timedOut }); });
  });
  if (!readStdout) (child as ChildProcess & { startReading?: () => void }).startReading = collect;
  return { child, done };
}

/** A finished local run folder as the store keeps it, with `events` as its events.jsonl (or nothing). */
function runFolder(events: string | undefined): { runsDir: string; dir: string; id: string } {
  const runsDir = mkdtempSync(join(tmpdir(), 'attach-hostile-'));
  const id = '20261202-000000-test';
  const dir = join(runsDir, id);
  mkdirSync(dir);
  const record = { id, name: 'hostile', target: { kind: 'local' }, engineArgs: [], dir, localDir: dir, createdAt: 0, status: 'completed' };
  writeFileSync(join(dir, RUN_FILE), JSON.stringify(record));
  writeFileSync(join(dir, EXIT_CODE_FILE), '0\n');
  if (events !== undefined) writeFileSync(join(dir, EVENTS_FILE), events);
  return { runsDir, dir, id };
}

const ev = (o: Record<string, unknown>): string => `${JSON.stringify({ v: 1, time: 1, rank: 0, ...o })}\n`;

test('escape sequences in events are shown escaped, in the table and in --json', async () => {
  const title = '\u001b]0;owned\u0007';
  const forged = 'ok\r       9     0.0001      0.001       1000      1.0 GiB';
  const hostile = [
    ev({ event: 'start', config: { steps: 10 }, device: title }),
    ev({ event: 'warning', message: forged, code: '\u001b[2J' }),
    ev({ event: 'checkpoint', step: 1, path: 'ckpt\u009b31m\nfake line' }),
    ev({ event: '\u001b[1mbold', x: 1 }),
    ev({ event: 'error', message: 'bidi \u202e txt.exe \u2028 next' }),
    ev({ event: 'end', status: 'completed', step: 1 }),
  ].join('');
  const { runsDir, id } = runFolder(hostile);
  const text = await attach(runsDir, [id]).done;
  assert.equal(text.timedOut, false);
  assert.equal(text.code, 0, text.stderr);
  const all = text.stdout + text.stderr;
  assert.doesNotMatch(all, RAW_CONTROL);
  assert.doesNotMatch(all, /[\u2028\u202e]/);
  assert.match(text.stdout, /device \\x1b\]0;owned\\x07/);
  assert.match(text.stderr, /\[\\x1b\[2J\] ok\\x0d {7}9/);
  assert.match(text.stdout, /ckpt\\x9b31m\\x0afake line/);
  assert.match(text.stdout, /\\x1b\[1mbold \(unknown event\)/);
  assert.match(text.stderr, /bidi \\u202e txt\.exe \\u2028 next/);

  const json = await attach(runsDir, [id, '--json']).done;
  assert.equal(json.code, 0, json.stderr);
  assert.doesNotMatch(json.stdout, RAW_CONTROL);
  assert.doesNotMatch(json.stdout, /[\u0080-\u009f\u2028\u202e]/);
  const parsed = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(parsed[0].device, title, 'JSON output still carries the exact strings');
  assert.equal(parsed[1].message, forged);
  assert.equal(parsed[2].path, 'ckpt\u009b31m\nfake line');
});

test('an events file that is a link to /dev/zero, a FIFO or a directory is refused with exit 2', async (t) => {
  const cases: Array<[string, (path: string) => void, RegExp]> = [
    ['link to /dev/zero', (p) => symlinkSync('/dev/zero', p), /is a symbolic link, not the regular file the engine writes/],
    ['directory', (p) => mkdirSync(p), /is a directory, not the regular file/],
  ];
  try {
    execFileSync('mkfifo', [join(mkdtempSync(join(tmpdir(), 'fifo-probe-')), 'f')]);
    cases.push(['FIFO', (p) => execFileSync('mkfifo', [p]), /is a FIFO \(named pipe\), not the regular file/]);
  } catch {
    t.diagnostic('mkfifo is not available; FIFO case skipped');
  }
  for (const [name, make, message] of cases) {
    const { runsDir, dir, id } = runFolder(undefined);
    make(join(dir, EVENTS_FILE));
    const r = await attach(runsDir, [id]).done;
    assert.equal(r.timedOut, false, `${name}: attach did not finish within ${WATCHDOG_MS} ms`);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: a stack trace reached the user`);
    assert.equal(r.stdout, '', `${name}: nothing but the refusal`);
  }
});

test('an event line over the size limit is reported and skipped; the events after it are shown', async () => {
  const huge = `{"v":1,"event":"warning","time":1,"rank":0,"message":"${'x'.repeat(DEFAULT_MAX_LINE_BYTES * 3)}"}\n`;
  const head = ev({ event: 'start', config: { steps: 2 } });
  const { runsDir, id } = runFolder(head + huge + ev({ event: 'step', step: 2, loss: 1.5 }) + ev({ event: 'end', status: 'completed', step: 2 }));
  const r = await attach(runsDir, [id]).done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`skipped the line at byte ${Buffer.byteLength(head)} of .*events\\.jsonl: longer than the ${DEFAULT_MAX_LINE_BYTES}-byte limit`));
  assert.match(r.stdout, /^ +2 +1\.5 /m);
  assert.match(r.stdout, /end +completed at step 2/);
});

function rssKiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

test('a reader that stops reading keeps attach memory bounded, and every event arrives once it reads', { skip: !existsSync('/proc/self/status') && 'needs /proc' }, async () => {
  const steps = 400_000;
  const lines = [ev({ event: 'start', config: { steps } })];
  for (let s = 1; s <= steps; s++) lines.push(ev({ event: 'step', step: s, loss: 2.5, lr: 0.001, tokens_per_s: 1000, mem_peak_bytes: 1e9 }));
  lines.push(ev({ event: 'end', status: 'completed', step: steps }));
  const { runsDir, id } = runFolder(lines.join(''));
  const stalled = attach(runsDir, [id], false);
  // While nobody reads, the CLI may fill the pipe and its own small buffer, then must wait.
  let peak = 0;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssKiB(stalled.child.pid!) ?? 0);
  }
  (stalled.child as ChildProcess & { startReading: () => void }).startReading();
  const r = await stalled.done;
  console.log(`attach over ${steps} steps (${(lines.join('').length / 2 ** 20).toFixed(0)} MiB of events) with a stalled reader: peak RSS ${(peak / 1024).toFixed(0)} MiB`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => /^ +\d+ +2\.5 /.test(l)).length, steps);
  assert.ok(peak > 0 && peak < 150 * 1024, `peak RSS ${peak} KiB while the reader stalled`);
});
