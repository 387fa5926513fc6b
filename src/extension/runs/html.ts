// The run view's HTML: a strict CSP with a fresh nonce per load; script and style only from media/.
// No vscode import, so the headless page tests load the page under exactly this policy.

export interface RunViewHtmlParts {
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  /** Extra inline script (the tests' acquireVsCodeApi stub), run before the page script. */
  preludeScript?: string;
}

export function runViewHtml(p: RunViewHtmlParts): string {
  // Chart.js sizes canvases through element.style (CSSOM), which CSP allows; no inline <style> needed.
  const csp = [
    "default-src 'none'",
    `img-src ${p.cspSource} data:`,
    `style-src ${p.cspSource}`,
    `font-src ${p.cspSource}`,
    `script-src 'nonce-${p.nonce}'`,
  ].join('; ');
  const prelude = p.preludeScript ? `<script nonce="${p.nonce}">${p.preludeScript}</script>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${p.styleUri}">
  <title>SLTrain run</title>
</head>
<body>
  <main id="app" class="app"></main>
  ${prelude}<script nonce="${p.nonce}" src="${p.scriptUri}"></script>
</body>
</html>`;
}
