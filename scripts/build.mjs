// Bundles the extension host, the CLI and the webview front ends with esbuild.
// Entry points that do not exist yet are skipped so the build grows with the repository.
import { build } from 'esbuild';
import { existsSync, chmodSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

// ssh2 optionally loads a native crypto addon and cpu-features; its pure-JS fallback works, so keep them out.
const nodeExternals = ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'];

const jobs = [];
if (existsSync('src/extension/extension.ts')) {
  jobs.push(build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js',
    platform: 'node', format: 'cjs', target: 'node20', external: nodeExternals }));
}
if (existsSync('src/cli/main.ts')) {
  jobs.push(build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node',
    format: 'cjs', target: 'node20', external: nodeExternals, banner: { js: '#!/usr/bin/env node' } })
    .then(() => chmodSync('dist/cli.js', 0o755)));
}
for (const page of ['planner', 'runview']) {
  const entry = `webview/${page}/main.ts`;
  if (existsSync(entry)) {
    jobs.push(build({ ...common, entryPoints: [entry], outfile: `media/${page}.js`, platform: 'browser',
      format: 'iife', target: 'es2022' }));
  }
}
if (existsSync('scripts/plan-bench.ts')) {
  jobs.push(build({ ...common, entryPoints: ['scripts/plan-bench.ts'], outfile: 'out-bench/plan-bench.js',
    platform: 'node', format: 'cjs', target: 'node20', external: nodeExternals }));
}
await Promise.all(jobs);
