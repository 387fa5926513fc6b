// Driving the code-server workbench from playwright: the command palette, quick picks and input
// boxes, dialog and notification buttons, and the run view's webview. Shared by the e2e tests.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import type { RunViewDebug } from '../../src/webviewApi/protocol/runview';

// The bundled tests run from out/test-e2e/; screenshots go to the repository's test/results/.
const RESULTS_DIR = resolve(__dirname, '..', '..', 'test', 'results');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function openWorkbench(url: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { browser, page };
}

/** Runs a palette command; retries because commands appear only once the extension host is up. */
export async function runCommand(page: Page, title: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: 2000 });
      await page.keyboard.press('Enter');
      return;
    } catch {
      await page.keyboard.press('Escape');
    }
  }
  throw new Error(`command "${title}" never showed up in the palette`);
}

/** Types into the open quick pick / input box once its title says which step it is. */
export async function answer(page: Page, titlePart: string, text: string | undefined): Promise<void> {
  await page.locator('.quick-input-title', { hasText: titlePart }).waitFor({ timeout: 30_000 });
  const input = page.locator('.quick-input-widget input');
  if (text !== undefined) await input.fill(text);
  await page.waitForTimeout(200);
  await page.keyboard.press('Enter');
}

/** Ticks `labels` in the open multi-select quick pick whose title has `titlePart`, then accepts it. */
export async function pickMany(page: Page, titlePart: string, labels: readonly string[]): Promise<void> {
  await page.locator('.quick-input-title', { hasText: titlePart }).waitFor({ timeout: 60_000 });
  for (const label of labels) {
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.locator('[role="checkbox"], input[type="checkbox"]').first().click();
    await page.waitForTimeout(200);
  }
  await page.waitForTimeout(200);
  await page.keyboard.press('Enter');
}

/** `scope`: `.monaco-dialog-box` (modal dialogs) or `.notifications-toasts` (notifications). */
export async function clickButton(page: Page, scope: string, name: string, timeout = 60_000): Promise<void> {
  const button = page.locator(`${scope} .monaco-button`, { hasText: name }).first();
  await button.waitFor({ state: 'visible', timeout });
  await button.click();
}

export async function waitFor<T>(page: Page, read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // the frame may be reloading
    }
    if (Date.now() > deadline) {
      // Keep what the user would have seen, to tell a slow page from a missing one.
      const shot = join(RESULTS_DIR, `timeout-${what.replace(/[^a-z0-9]+/gi, '-')}.png`);
      mkdirSync(RESULTS_DIR, { recursive: true });
      await page.screenshot({ path: shot }).catch(() => undefined);
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}; screenshot ${shot}`);
    }
    await page.waitForTimeout(500);
  }
}

/**
 * The run view's page frame. Webviews are nested iframes outside the workbench DOM, and after a reload
 * or beside the planner there are several; the run view is the frame that renders a `.run` header.
 */
export async function runView(page: Page): Promise<Frame> {
  for (const frame of page.frames()) {
    if (frame.isDetached()) continue;
    try {
      if ((await frame.locator('.run .step').count()) > 0) return frame;
    } catch {
      // a frame navigating away while we ask
    }
  }
  throw new Error('no run view frame yet');
}


/** Points in the page's arrays and the last step shown: equal exactly when none is lost or repeated. */
export async function viewState(page: Page): Promise<{ points: number; lastStep: number; status: string }> {
  const view = await runView(page);
  const points = await view.locator('body').evaluate(() => (window as unknown as { runviewDebug: RunViewDebug }).runviewDebug.points);
  const stepText = (await view.locator('.run .step').first().textContent()) ?? '';
  const status = (await view.locator('.run .badge').first().textContent()) ?? '';
  return { points, lastStep: Number(/step (\d+)/.exec(stepText)?.[1] ?? -1), status };
}

/** Reloads the window mid-run: the run keeps going and the run view reattaches without gaps or repeats. */
export async function reloadAndExpectReattach(page: Page): Promise<void> {
  const state = (): ReturnType<typeof viewState> => viewState(page);
  const before = await state();
  await page.reload();
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const after = await waitFor(page, state, (v) => v.lastStep > before.lastStep && v.points >= v.lastStep, 'new steps after the reload', 120_000);
  assert.equal(after.status, 'running');
  assert.equal(after.points, after.lastStep, 'one point per step: none lost, none repeated');
}
