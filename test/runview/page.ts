// Loads media/runview.js into headless Chromium as VS Code would: a dark theme's --vscode-* variables,
// a stub acquireVsCodeApi() that records what the page posts, messages delivered as window 'message'.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostToRunView, RunViewDebug, RunViewToHost } from '../../src/webviewApi/protocol/runview';
import { runViewHtml } from '../../src/extension/runs/html';

const ROOT = resolve(__dirname, '../../..');

// Values of VS Code's Dark Modern theme for the variables the page and the chart theme read.
const DARK_THEME = `
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-editor-background: #1f1f1f;
  --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px; --vscode-charts-foreground: #cccccc;
  --vscode-charts-lines: rgba(204, 204, 204, 0.2); --vscode-charts-blue: #3794ff; --vscode-charts-orange: #d18616;
  --vscode-charts-green: #89d185; --vscode-charts-purple: #b180d7; --vscode-charts-yellow: #cca700; --vscode-charts-red: #f14c4c;
  --vscode-badge-background: #616161; --vscode-badge-foreground: #f8f8f8; --vscode-errorForeground: #f85149;
  --vscode-button-background: #0078d4; --vscode-button-foreground: #ffffff; --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc; --vscode-panel-border: #2b2b2b; --vscode-sideBar-background: #181818;
  --vscode-inputValidation-errorBackground: #5a1d1d; --vscode-inputValidation-errorBorder: #be1100; --vscode-focusBorder: #0078d4;`;

// What VS Code injects: acquireVsCodeApi(); here it records posts and keeps state on window.
const STUB = `window.posted = []; window.acquireVsCodeApi = () => ({
  postMessage: (m) => window.posted.push(m), getState: () => window.savedState, setState: (s) => { window.savedState = s; } });`;

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A made-up origin: requests to it are answered from the repository (the page's only source). */
const ORIGIN = 'https://runview.test';

export async function openRunView(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.error(`page console: ${m.text()}`);
  });
  // The production HTML and CSP (src/extension/runs/html.ts), with the theme variables VS Code would inject.
  const html = runViewHtml({
    cspSource: ORIGIN, scriptUri: `${ORIGIN}/media/runview.js`, styleUri: `${ORIGIN}/media/runview.css`,
    nonce: 'dGVzdC1ub25jZQ',
    // As VS Code does: theme variables set through the DOM on <html>, the theme kind as a body class.
    preludeScript: `${STUB} document.documentElement.style.cssText = ${JSON.stringify(DARK_THEME.replace(/\s+/g, ' ').trim())};
      document.body.classList.add('vscode-dark');`,
  });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/index.html') return route.fulfill({ contentType: 'text/html', body: html });
    if (path === '/media/runview.js' || path === '/media/runview.css') {
      return route.fulfill({ contentType: path.endsWith('.js') ? 'text/javascript' : 'text/css', body: readFileSync(resolve(ROOT, path.slice(1)), 'utf8') });
    }
    return route.fulfill({ status: 404, body: '' });
  });
  await page.goto(`${ORIGIN}/index.html`);
  return page;
}

/** One browser and run view page for a test file: opened before its tests, closed after them. */
export function withRunView(use: (page: Page) => void): void {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
    use(await openRunView(browser));
  });
  after(async () => browser?.close());
}

export async function posted(page: Page): Promise<RunViewToHost[]> {
  return page.evaluate(() => (window as unknown as { posted: RunViewToHost[] }).posted);
}

export async function send(page: Page, msg: HostToRunView): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, '*'), msg);
}

export type Debug = RunViewDebug;

export async function debugInfo(page: Page): Promise<Debug> {
  return page.evaluate(() => (window as unknown as { runviewDebug: Debug }).runviewDebug);
}

/** Waits until the page has redrawn more than `renders` times. */
export async function waitForRender(page: Page, renders: number): Promise<Debug> {
  await page.waitForFunction((n) => (window as unknown as { runviewDebug: Debug }).runviewDebug.renders > n, renders);
  return debugInfo(page);
}
