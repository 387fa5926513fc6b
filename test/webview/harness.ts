// A stand-in for VS Code's webview host: the real CSP shape (nonce scripts, inline styles allowed), theme
// variables on <html>, and a fake acquireVsCodeApi that records what the page posts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { applyThemeScript, type ThemeName } from './themes';

const NONCE = 'harness-nonce-1';

/** Writes the harness page for a theme and returns its file:// URL. */
export function writeHarness(repoRoot: string, theme: ThemeName, savedState?: unknown): string {
  const media = (f: string): string => pathToFileURL(resolve(repoRoot, 'media', f)).toString();
  const csp = `default-src 'none'; img-src file: data:; style-src file: 'unsafe-inline'; font-src file:; script-src 'nonce-${NONCE}'`;
  const html = `<!DOCTYPE html>
<html lang="en"><head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${media('planner.css')}">
</head><body>
<main id="app" class="app"></main>
<script nonce="${NONCE}">
  ${applyThemeScript(theme)}
  window.__posts = [];
  window.__state = ${JSON.stringify(savedState ?? null)};
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__posts.push(JSON.parse(JSON.stringify(m))),
    getState: () => window.__state ?? undefined,
    setState: (s) => { window.__state = s; },
  });
</script>
<script nonce="${NONCE}" src="${media('planner.js')}"></script>
</body></html>`;
  const dir = mkdtempSync(join(tmpdir(), 'planner-harness-'));
  const file = join(dir, `planner-${theme}.html`);
  writeFileSync(file, html);
  return pathToFileURL(file).toString();
}
