// The planner page's HTML: a strict CSP with a fresh nonce per load; scripts and styles only from media/.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export function plannerHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(18).toString('base64');
  const media = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', file)).toString();
  // style-src needs 'unsafe-inline': the toolkit's FAST base injects <style> elements at registration.
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${media('planner.css')}">
  <title>SLTrain plan</title>
</head>
<body>
  <main id="app" class="app"></main>
  <script nonce="${nonce}" src="${media('planner.js')}"></script>
</body>
</html>`;
}
