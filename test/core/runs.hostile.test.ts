// Property test: generated hostile run folders and records (pgid 0/1/-1/own group/a live foreign
// process, ids and dirs pointing outside, symlinks, FIFOs, /dev/zero, non-UTF-8, huge numbers, missing
// files) go through `sltrain runs` and `sltrain stop`. Whatever they hold, nothing outside the runs
// directory is touched, no process is signalled, every call ends with exit 0/1/2 and no traceback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { systemProcessControl } from '../../src/core/runs/system';
import { prng } from './fixtures/prng';

const RUNS_JS = resolve(__dirname, '../../src/cli/runs.js');
const CASES = 40;


function cli(runsDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `require(${JSON.stringify(RUNS_JS)}).runRunsCommand(process.argv[1], process.argv.slice(2)).then((c) => process.exit(c))`;
  return new Promise((done) => {
    execFile(process.execPath, ['-e', script, ...args], { env: { ...process.env, SLTRAIN_RUNS_DIR: runsDir }, timeout: 60_000 },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });
}

/** Every entry under `dir` (not following links) with its type, size, mtime and content hash. */
function snapshot(dir: string): string[] {
  const rows: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const hash = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
      rows.push(`${p} ${st.mode} ${st.size} ${st.mtimeMs} ${hash}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return rows;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && systemProcessControl.groupAlive(child.pid as number);
}

test('hostile run folders: runs and stop touch nothing outside the runs directory and signal no process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hostile-'));
  const runs = join(root, 'runs');
  const outside = join(root, 'outside');
  mkdirSync(runs);
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'precious.txt'), 'keep me\n');
  writeFileSync(join(outside, 'sub', 'events.jsonl'), '{"v":1,"event":"end","time":1,"rank":0,"status":"completed","step":1}\n');
  execFileSync('mkfifo', [join(outside, 'fifo')]);
  // Foreign processes in their own groups: one runs in the outside folder and names it on its
  // command line, the closest a foreign process can come to looking like that folder's run.
  const victims = [
    spawn('sleep', ['300'], { detached: true, stdio: 'ignore', cwd: outside }),
    spawn('bash', ['-c', 'sleep 300; true', outside], { detached: true, stdio: 'ignore', cwd: outside }),
  ];
  await Promise.all(victims.map((v) => new Promise((r) => v.once('spawn', r))));
  const before = snapshot(outside);
  const own = systemProcessControl.ownGroup();
  try {
    const pids: unknown[] = [undefined, 0, 1, -1, own, process.pid, ...victims.map((v) => v.pid), 2 ** 53 + 2, -(2 ** 31), 1e308, '7', null, 4.5];
    const dirsFor = (folder: string): string[] => [folder, outside, '/', join(folder, 'link'), join(root, 'nope'), 'relative', join(outside, 'sub')];
    const fileKinds = ['missing', 'link-outside', 'fifo', 'dev-zero', 'non-utf8', 'huge-number', 'garbage'];
    // "starting" often: it is the status that makes runs/stop reconcile and save a record.
    const statuses = ['running', 'starting', 'starting', 'starting', 'unknown', 'completed', 'stopped', 'failed', 'bogus'];
    const ids: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const r = prng(1000 + i);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const id = `h${i}`;
      const folder = join(runs, id);
      mkdirSync(folder);
      symlinkSync(outside, join(folder, 'link'));
      const pgid = pick(pids);
      const record: Record<string, unknown> = {
        id: r() < 0.25 ? pick(['../outside', 'x/../../outside', `${id}\u001b]0;pwn\u0007`]) : id,
        name: r() < 0.3 ? '\u001b[2J\rstep 999' : id,
        target: r() < 0.2 ? { kind: 'ssh', host: { name: 'down', host: '127.0.0.1', port: 1, user: 'nobody' } } : { kind: 'local' },
        engineArgs: [], dir: pick(dirsFor(folder)), localDir: pick(dirsFor(folder)), createdAt: Math.floor(r() * 1e12),
        status: pick(statuses),
        ...(pgid !== undefined ? { pgid } : {}),
        ...(r() < 0.7 ? { pid: r() < 0.5 ? pgid : pick(pids) } : {}),
        ...(r() < 0.3 ? { startTime: pick(['1', 'x', '']) } : {}),
      };
      // The first cases are the closest calls, not left to chance: a record pointing its folder at the
      // outside one (directly or through a link), where the second victim runs and which it names.
      if (i < 2) Object.assign(record, { id, status: 'running', dir: i === 0 ? outside : join(folder, 'link'), pgid: victims[1].pid, pid: victims[1].pid });
      let json = Buffer.from(JSON.stringify(record));
      if (r() < 0.15) json = Buffer.concat([json.subarray(0, json.length - 1), Buffer.from(',"x":"\xff\xfe"}', 'latin1')]);
      writeFileSync(join(folder, 'run.json'), json);
      for (const file of ['events.jsonl', 'exit_code', 'pid', 'pgid', 'run.lock', 'stop_requested']) {
        const p = join(folder, file);
        switch (pick(fileKinds)) {
          case 'link-outside': symlinkSync(pick([join(outside, 'precious.txt'), join(outside, 'fifo'), join(outside, 'sub', 'events.jsonl')]), p); break;
          case 'fifo': execFileSync('mkfifo', [p]); break;
          case 'dev-zero': symlinkSync('/dev/zero', p); break;
          case 'non-utf8': writeFileSync(p, Buffer.from([0xff, 0xfe, 0x0a, 0xc3, 0x28])); break;
          case 'huge-number': writeFileSync(p, `${'9'.repeat(400)}\n`); break;
          case 'garbage': writeFileSync(p, `${String(pick(pids))} host 1\n`); break;
          default: break;
        }
      }
      ids.push(id);
    }
    const listed = await cli(runs, 'runs', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stderr, /\n\s+at /, 'no traceback');
    assert.ok(Array.isArray(JSON.parse(listed.stdout)));
    for (const id of ids) {
      const stop = await cli(runs, 'stop', id, '--grace', '1');
      assert.ok(stop.code === 0 || stop.code === 1 || stop.code === 2, `stop ${id}: exit ${stop.code}\n${stop.stderr}`);
      assert.doesNotMatch(stop.stderr, /\n\s+at /, `stop ${id}: no traceback\n${stop.stderr}`);
      assert.doesNotMatch(stop.stdout + stop.stderr, /\u001b/, `stop ${id}: no raw escape reaches the terminal`);
      for (const v of victims) assert.ok(alive(v), `stop ${id} signalled foreign process ${v.pid}`);
    }
    assert.deepEqual(snapshot(outside), before, 'nothing outside the runs directory changed');
  } finally {
    for (const v of victims) v.kill('SIGKILL');
  }
});
