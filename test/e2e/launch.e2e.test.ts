// End to end in a real VS Code (code-server): launch llama_tiny from the palette on this machine, watch
// it in the run view, reload the window mid-run (the run keeps going and the view reattaches with no
// lost or repeated point), then stop it from the view (SIGTERM → checkpoint → "stopped"); and launch
// from the planner panel: the options edited there (GaLore gap, index layout, precision) are what the
// engine resolves.
// Uses the repository's engine and engine/.venv through the settings, as a user with a checkout would.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Frame, Page } from 'playwright-core';
import { ROOT, startCodeServer, type CodeServer } from './codeServer';
import * as wb from './workbench';

const RESULTS = resolve(ROOT, 'test/results');
const VSIX = process.env.SLTRAIN_VSIX ?? resolve(ROOT, 'out/e2e/sltrain-studio.vsix');

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
  ({ browser, page } = await wb.openWorkbench(server.url));
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

const viewState = (): ReturnType<typeof wb.viewState> => wb.viewState(page);

test('launch from the palette, watch, reload mid-run, stop', { timeout: 420_000 }, async (t) => {
  mkdirSync(RESULTS, { recursive: true });
  await t.test('launch: spec confirmed, CPU warning accepted, the run view follows the run', async () => {
    await wb.runCommand(page, 'Launch SLTrain run');
    await wb.answer(page, '(1/5)', 'llama_tiny');
    await launchHere('3000', ['tensorboard']);
    const s = await wb.waitFor(page, viewState, (v) => v.status === 'running' && v.lastStep >= 3 && v.points >= v.lastStep, 'the first steps in the run view', 120_000);
    assert.equal(s.points, s.lastStep);
    assert.equal(runIds().length, 1);
    // The picked tracker reached the engine, and the run view links to its folder and its command.
    const tb = (await wb.runView(page)).locator('.run .tracker[data-tracker="tensorboard"]');
    await tb.waitFor({ timeout: 30_000 });
    const logdir = join(runsDir(), runIds()[0], 'tensorboard');
    assert.equal(await tb.locator('button.tracker-reveal').getAttribute('title'), logdir);
    await tb.locator('button.tracker-copy').click();
    await page.locator('.notifications-toasts', { hasText: `Copied: tensorboard --logdir ${logdir}` }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(RESULTS, 'e2e-launch.png') });
  });

  await t.test('reload mid-run: the run keeps going, the view reattaches without gaps or repeats', async () => {
    await wb.reloadAndExpectReattach(page);
  });

  await t.test('stop from the run view: checkpoint, then "stopped" everywhere', async () => {
    await (await wb.runView(page)).locator('.run button.stop').click();
    await wb.clickButton(page, '.monaco-dialog-box', 'Stop', 30_000);
    const s = await wb.waitFor(page, viewState, (v) => v.status === 'stopped', 'the stopped status', 120_000);
    assert.equal(s.points, s.lastStep);
    const id = runIds()[0];
    const record = JSON.parse(readFileSync(join(runsDir(), id, 'run.json'), 'utf8')) as { status: string };
    assert.equal(record.status, 'stopped');
    const events = readFileSync(join(runsDir(), id, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string });
    assert.ok(events.some((e) => e.event === 'checkpoint'));
    assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'end', status: 'stopped' });
    await page.screenshot({ path: join(RESULTS, 'e2e-stopped.png') });
  });

  await t.test('launch with these settings from the planner: the edited options reach the engine', async () => {
    const before = new Set(runIds());
    await wb.runCommand(page, 'Plan SLTrain run');
    await page.locator('.quick-input-widget input[placeholder*="preset"]').waitFor();
    await page.keyboard.insertText('llama_tiny');
    await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: 'llama_tiny' }).waitFor();
    await page.keyboard.press('Enter');
    const panel = await wb.waitFor(page, plannerFrame, (f) => f !== undefined, 'the planner panel', 60_000);
    await panel!.locator('#galore-gap input').fill('7');
    await pick(panel!, 'index-dtype', 'int32 flat');
    await pick(panel!, 'precision', 'Mixed (fp32 master)');
    await wb.waitFor(page, async () => panel!.locator('#launch').isDisabled(), (d) => !d, 'the launch button', 30_000);
    // Let the last edit's re-plan land before launching it.
    await page.waitForTimeout(1000);
    await panel!.locator('#launch').click();
    await launchHere('30');
    const config = await wb.waitFor(page, async () => {
      const id = runIds().find((r) => !before.has(r));
      try {
        return id ? (JSON.parse(readFileSync(join(runsDir(), id, 'config.json'), 'utf8')) as Record<string, unknown>) : undefined;
      } catch {
        return undefined; // not written yet
      }
    }, (c) => c !== undefined, "the new run's resolved config", 120_000);
    assert.equal(config!.galore_update_gap, 7);
    assert.equal(config!.index_dtype, 'int32');
    assert.equal(config!.precision, 'mixed');
    assert.equal(config!.model, 'llama_tiny');
    assert.equal(config!.steps, 30);
  });
});

/**
 * The rest of the launch dialog after the model: this machine, `steps`, the embedded data, the trackers
 * to tick (the engine venv has all four, so the step is offered), the default folder.
 */
async function launchHere(steps: string, trackers: string[] = []): Promise<void> {
  await wb.answer(page, '(2/5)', 'This machine');
  await wb.answer(page, '(3/5)', steps);
  await wb.answer(page, '(4/5)', 'embedded');
  await wb.pickMany(page, 'Report to trackers', trackers);
  await wb.answer(page, '(5/5)', undefined);
  await wb.clickButton(page, '.monaco-dialog-box', 'Launch', 30_000);
  await wb.clickButton(page, '.notifications-toasts', 'Launch on CPU', 90_000);
}

/** The planner's page frame: the webview that renders the planner's controls. */
async function plannerFrame(): Promise<Frame | undefined> {
  for (const frame of page.frames()) {
    if (frame.isDetached()) continue;
    try {
      if ((await frame.locator('#index-dtype').count()) > 0) return frame;
    } catch {
      // a frame navigating away while we ask
    }
  }
  return undefined;
}

/** Chooses an option of a toolkit dropdown by its label, as a user would with the mouse. */
async function pick(frame: Frame, id: string, label: string): Promise<void> {
  await frame.locator(`vscode-dropdown#${id}`).click();
  await frame.locator(`vscode-dropdown#${id} vscode-option`, { hasText: label }).click();
}
