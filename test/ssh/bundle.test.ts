// The SSH layer bundled with esbuild as scripts/build.mjs does (cpu-features and ssh2's native crypto
// addon external), run from a folder without node_modules: ssh2's pure-JS fallback must connect.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build } from 'esbuild';
import { USER, makeWorld, repoRoot } from './harness/world';
import type { World } from './harness/world';

let w: World;
before(async () => { w = await makeWorld(); });
after(async () => { await w.close(); });

test('bundled ssh2 works without its native addons', async () => {
  const outfile = join(w.dir, 'bundle', 'entry.js');
  await build({
    entryPoints: [join(repoRoot(), 'test', 'ssh', 'fixtures', 'bundleEntry.ts')], outfile, bundle: true,
    platform: 'node', format: 'cjs', target: 'node20', logLevel: 'silent',
    external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  });
  const out = execFileSync(process.execPath, [outfile, String(w.servers[0].port), w.clientKey, w.knownHosts, w.home, USER],
    { cwd: join(w.dir, 'bundle'), encoding: 'utf8', timeout: 30_000 });
  assert.equal(out, 'bundled-ok\n');
});
