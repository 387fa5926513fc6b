// End to end in a real VS Code (code-server): launch llama_tiny from the palette on this machine, watch
// it in the run view, reload the window mid-run (the run keeps going and the view reattaches with no
// lost or repeated point), then stop it from the view (SIGTERM → checkpoint → "stopped").
// Uses the repository's engine and engine/.venv through the settings, as a user with a checkout would.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { ROOT, startCodeServer, type CodeServer } from './codeServer';

const RESULTS = resolve(ROOT, 'test/results');
const VSIX = process.env.SLTRAIN_VSIX ?? resolve(ROOT, 'out/e2e/sltrain-studio.vsix');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let server: CodeServer;
let browser: Browser;
let page: Page;
let workspace: string;

before(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'sltrain-launch-ws-'));
  server = await startCodeServer(VSIX, workspace, {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'sltrain.pythonPath': join(ROOT, 'engine/.venv/bin/python'),
    'sltrain.engineLocation': join(ROOT, 'engine'),
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(server.url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
});

after(async () => {
  // Never leave a training process behind, whatever failed.
  for (const id of runIds()) {
    try {
      const { pgid } = JSON.parse(readFileSync(join(runsDir(), id, 'run.json'), 'utf8')) as { pgid: number };
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await browser?.close();
  await server?.stop();
});

const runsDir = (): string => join(workspace, '.sltrain', 'runs');
function runIds(): string[] {
  try {
    return readdirSync(runsDir());
  } catch {
    return [];
  }
}

const runView = (): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');

interface ViewDebug {
  points: number;
}

/** Points in the page's arrays and the last step shown: equal exactly when none is lost or repeated. */
async function viewState(): Promise<{ points: number; lastStep: number; status: string }> {
  const points = await runView().locator('body').evaluate(() => (window as unknown as { runviewDebug: ViewDebug }).runviewDebug.points);
  const stepText = (await runView().locator('.run .step').first().textContent()) ?? '';
  const status = (await runView().locator('.run .badge').first().textContent()) ?? '';
  return { points, lastStep: Number(/step (\d+)/.exec(stepText)?.[1] ?? -1), status };
}

async function runCommand(title: string): Promise<void> {
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
async function answer(titlePart: string, text: string | undefined): Promise<void> {
  await page.locator('.quick-input-title', { hasText: titlePart }).waitFor({ timeout: 30_000 });
  const input = page.locator('.quick-input-widget input');
  if (text !== undefined) await input.fill(text);
  await page.waitForTimeout(200);
  await page.keyboard.press('Enter');
}

async function clickButton(scope: string, name: string, timeout = 60_000): Promise<void> {
  const button = page.locator(`${scope} .monaco-button`, { hasText: name }).first();
  await button.waitFor({ state: 'visible', timeout });
  await button.click();
}

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // the frame may be reloading
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await page.waitForTimeout(500);
  }
}

test('launch from the palette, watch, reload mid-run, stop', { timeout: 420_000 }, async (t) => {
  mkdirSync(RESULTS, { recursive: true });
  await t.test('launch: spec confirmed, CPU warning accepted, the run view follows the run', async () => {
    await runCommand('Launch SLTrain run');
    await answer('(1/4)', 'llama_tiny');
    await answer('(2/4)', '3000');
    await answer('(3/4)', 'embedded');
    await answer('(4/4)', undefined);
    await clickButton('.monaco-dialog-box', 'Launch', 30_000);
    await clickButton('.notifications-toasts', 'Launch on CPU', 90_000);
    const s = await waitFor(viewState, (v) => v.status === 'running' && v.lastStep >= 3, 'the first steps in the run view', 120_000);
    assert.equal(s.points, s.lastStep);
    assert.equal(runIds().length, 1);
    await page.screenshot({ path: join(RESULTS, 'e2e-launch.png') });
  });

  await t.test('reload mid-run: the run keeps going, the view reattaches without gaps or repeats', async () => {
    const before = await viewState();
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const after = await waitFor(viewState, (v) => v.lastStep > before.lastStep, 'new steps after the reload', 120_000);
    assert.equal(after.status, 'running');
    assert.equal(after.points, after.lastStep, 'one point per step: none lost, none repeated');
  });

  await t.test('stop from the run view: checkpoint, then "stopped" everywhere', async () => {
    await runView().locator('.run button.stop').click();
    await clickButton('.monaco-dialog-box', 'Stop', 30_000);
    const s = await waitFor(viewState, (v) => v.status === 'stopped', 'the stopped status', 120_000);
    assert.equal(s.points, s.lastStep);
    const id = runIds()[0];
    const record = JSON.parse(readFileSync(join(runsDir(), id, 'run.json'), 'utf8')) as { status: string };
    assert.equal(record.status, 'stopped');
    const events = readFileSync(join(runsDir(), id, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string });
    assert.ok(events.some((e) => e.event === 'checkpoint'));
    assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'end', status: 'stopped' });
    await page.screenshot({ path: join(RESULTS, 'e2e-stopped.png') });
  });
});
