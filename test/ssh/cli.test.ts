// `sltrain hosts check` as a child process with its own HOME: trusted host → report, exit 0;
// unknown host key without a terminal → refused with the fingerprint message, exit 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { USER, makeWorld, remotePython, repoRoot } from './harness/world';
import type { World } from './harness/world';

let w: World;
before(async () => { w = await makeWorld(); });
after(async () => { await w.close(); });

function hosts(args: string[]): { code: number | null; out: string; err: string } {
  const mod = join(repoRoot(), 'out', 'src', 'cli', 'hosts.js');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(mod)}).runHostsCommand(process.argv.slice(1)).then((c) => process.exit(c))`, ...args],
    { env: { PATH: process.env.PATH, HOME: w.home }, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('sltrain hosts check: report for a trusted host, refusal for an unknown key without a terminal', () => {
  const dest = `${USER}@127.0.0.1:${w.servers[0].port}`;
  const base = ['check', dest, '--identity', w.clientKey, '--python', remotePython(), '--work-dir', join(w.dir, 'cliwork')];
  const ok = hosts(base);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /torch: {2}\d/);
  assert.match(ok.out, /engine: .*engine-[0-9a-f]{12}/);
  writeFileSync(w.knownHosts, '');
  const refused = hosts(base);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /is not known and was not accepted/);
});
