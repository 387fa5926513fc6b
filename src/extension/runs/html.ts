// The run view's HTML: the shared shell. Chart.js sizes canvases through element.style (CSSOM), which
// CSP allows, so no inline styles are needed.
import { pageHtml } from '../../webviewApi/pageHtml';

export interface RunViewHtmlParts {
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  /** Extra inline script (the tests' acquireVsCodeApi stub), run before the page script. */
  preludeScript?: string;
}

export function runViewHtml(p: RunViewHtmlParts): string {
  return pageHtml({ ...p, title: 'SLTrain run' });
}
