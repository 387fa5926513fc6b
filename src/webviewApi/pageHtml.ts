// The HTML shell of every webview page: a strict CSP with a fresh nonce per load, one stylesheet and
// one script from media/. No vscode import, so headless page tests load pages under exactly this policy.

export interface PageHtmlParts {
  title: string;
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  /**
   * The webview-ui-toolkit's FAST base injects <style> elements when its components register, which
   * needs 'unsafe-inline' in style-src; pages without the toolkit keep styles to media/ only.
   */
  inlineStyles?: boolean;
  /** Extra inline script (the tests' acquireVsCodeApi stub), run before the page script. */
  preludeScript?: string;
}

export function pageHtml(p: PageHtmlParts): string {
  const csp = [
    "default-src 'none'",
    `img-src ${p.cspSource} data:`,
    `style-src ${p.cspSource}${p.inlineStyles ? " 'unsafe-inline'" : ''}`,
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
  <title>${p.title}</title>
</head>
<body>
  <main id="app" class="app"></main>
  ${prelude}<script nonce="${p.nonce}" src="${p.scriptUri}"></script>
</body>
</html>`;
}
