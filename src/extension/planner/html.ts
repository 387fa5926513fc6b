// The planner page's HTML: the shared shell, with the toolkit's inline styles allowed.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { pageHtml } from '../../webviewApi/pageHtml';

export function plannerHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const media = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', file)).toString();
  return pageHtml({
    title: 'SLTrain plan', cspSource: webview.cspSource, nonce: randomBytes(18).toString('base64'),
    scriptUri: media('planner.js'), styleUri: media('planner.css'), inlineStyles: true,
  });
}
