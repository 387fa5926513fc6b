// End to end in a real VS Code (code-server): install the .vsix, plan a config.json from the command
// palette, compare the panel with `sltrain plan --json`, edit the config live, switch themes, reload.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { METHODS } from '../../src/core/planner/types';
import { ROOT, startCodeServer, type CodeServer } from './codeServer';
import * as wb from './workbench';

const RESULTS = resolve(ROOT, 'test/results');
const VSIX = process.env.SLTRAIN_VSIX ?? resolve(ROOT, 'out/e2e/sltrain-studio.vsix');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Row {
  method: string;
  total: number;
  trainable: number;
  estimate: number;
  peak: number;
  maxMicroBatch: number;
}

interface CliResult {
  method: string;
  params: { total: number; trainable: number };
  estimate: { totalBytes: number };
  peak: { bytes: number };
  fits: { maxMicroBatch: number };
}

let server: CodeServer;
let browser: Browser;
let page: Page;
let workspace: string;
const cspViolations: string[] = [];
const settings: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.colorTheme': 'Default Light Modern',
  'security.workspace.trust.enabled': false,
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.formatOnType': false,
  'editor.autoIndent': 'none',
  'editor.autoSurround': 'never',
  // "Measure here" runs the engine of this checkout with its venv.
  'sltrain.pythonPath': join(ROOT, 'engine/.venv/bin/python'),
  'sltrain.engineLocation': join(ROOT, 'engine'),
};

function hfConfig(preset: string): Record<string, unknown> {
  const table = JSON.parse(readFileSync(join(ROOT, 'engine/sltrain/presets.json'), 'utf8')) as {
    presets: Record<string, { config: Record<string, unknown> }>;
  };
  return table.presets[preset].config;
}

function cli(configText: string): Row[] {
  const file = join(mkdtempSync(join(tmpdir(), 'sltrain-cli-')), 'config.json');
  writeFileSync(file, configText);
  const out = execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'plan', '--model', file, '--method', 'all', '--json'], { encoding: 'utf8' });
  return (JSON.parse(out) as CliResult[]).map((r) => ({
    method: r.method, total: r.params.total, trainable: r.params.trainable, estimate: r.estimate.totalBytes,
    peak: r.peak.bytes, maxMicroBatch: r.fits.maxMicroBatch,
  }));
}

const planner = (): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');

/** The panel's numbers, exact: the table rounds, the title tooltips hold the full values. */
async function panelRows(): Promise<Row[]> {
  return planner().locator('table.numbers tbody').evaluate((body) => {
    const num = (s: string | null): number => Number((s ?? '').replace(/^([\d,]+).*$/s, '$1').replace(/,/g, ''));
    return Array.from(body.querySelectorAll('tr'), (tr) => {
      const td = tr.querySelectorAll('td');
      return {
        method: (tr as HTMLElement).dataset.method ?? '', total: num(td[0].title), trainable: num(td[1].title),
        estimate: num(td[2].title), peak: num(td[3].title), maxMicroBatch: Number(td[5].textContent),
      };
    });
  });
}

/** The chart's most frequent opaque colours (a theme fingerprint). */
async function chartColours(): Promise<string[]> {
  return planner().locator('canvas.chart').evaluate((canvas) => {
    const ctx = (canvas as HTMLCanvasElement).getContext('2d');
    if (!ctx) return [];
    const d = ctx.getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height).data;
    const counts = new Map<string, number>();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 255) continue;
      const k = `${d[i]},${d[i + 1]},${d[i + 2]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts.entries()].filter(([, n]) => n > 500).sort((a, b) => b[1] - a[1]).map(([k]) => k).slice(0, 4);
  });
}

/** Runs a palette command (the shared driver retries until the extension host is up). */
async function runCommand(title: string): Promise<void> {
  await wb.runCommand(page, title);
}

async function setColorTheme(name: string): Promise<void> {
  // Ctrl+K Ctrl+T opens the theme picker directly; the picker previews and applies the focused row.
  const picker = page.locator('.quick-input-widget input[placeholder*="Color Theme"]');
  for (let attempt = 0; attempt < 5 && !(await picker.isVisible()); attempt++) {
    await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+T');
    await picker.waitFor({ timeout: 3000 }).catch(() => undefined);
  }
  await page.keyboard.insertText(name);
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: name }).first().waitFor();
  await page.keyboard.press('Enter');
}

async function replaceEditorText(text: string): Promise<void> {
  await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+A');
  // Delete first: typing "{" over a selection would wrap it (auto-surround) instead of replacing it.
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(text);
}

async function waitForRows(predicate: (rows: Row[]) => boolean, what: string): Promise<Row[]> {
  const deadline = Date.now() + 30_000;
  let rows: Row[] = [];
  while (Date.now() < deadline) {
    rows = await panelRows().catch(() => []);
    if (rows.length === METHODS.length && predicate(rows)) return rows;
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting for ${what}; last rows ${JSON.stringify(rows)}`);
}

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  workspace = mkdtempSync(join(tmpdir(), 'sltrain-ws-'));
  writeFileSync(join(workspace, 'config.json'), JSON.stringify(hfConfig('llama_60m'), null, 2) + '\n');
  writeFileSync(join(workspace, 'bert.json'), JSON.stringify({ model_type: 'bert', hidden_size: 768, num_attention_heads: 12 }, null, 2) + '\n');
  writeFileSync(join(workspace, 'notes.json'), '{ "notes": "not a model config" }\n');
  writeFileSync(join(workspace, 'qwen2.5-0.5b.json'), JSON.stringify(hfConfig('qwen2.5_0.5b'), null, 2) + '\n');
  server = await startCodeServer(VSIX, workspace, settings);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  // CSP refusals of scripts in any frame (ours included) are failures; the toolkit's inline styles are allowed.
  page.on('console', (m) => {
    if (/Refused to (load|execute).*script/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(server.url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('plan a config.json from the palette, follow edits, themes and a reload', { timeout: 420_000 }, async (t) => {
  // Open the config so that the command plans the active editor's file.
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill('config.json');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'config.json' }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.tab', { hasText: 'config.json' }).first().waitFor();

  await runCommand('Plan SLTrain run');
  await planner().locator('#app.ready').waitFor({ timeout: 60_000 });

  await t.test('the panel shows the same numbers as `sltrain plan --json`', async () => {
    const expected = cli(readFileSync(join(workspace, 'config.json'), 'utf8'));
    assert.deepEqual(await waitForRows(() => true, 'the first plan'), expected);
    // The run features are registered, so "Launch with these settings" is offered.
    await planner().locator('#launch').waitFor({ state: 'visible' });
    await page.screenshot({ path: join(RESULTS, 'e2e-light.png') });
  });

  await t.test('the step timeline is drawn; Measure here runs the engine here and draws its timeline over the plan', async () => {
    const label = await planner().locator('canvas.timeline').getAttribute('aria-label') ?? '';
    assert.match(label, /peak [0-9.]+ GB at \S+/);
    await planner().locator('#measure').click();
    // 60M on this machine's CPU: three real steps, the third recorded event by event.
    await planner().locator('.measure-status', { hasText: 'Measured on this machine (cpu)' }).waitFor({ timeout: 180_000 });
    const series = await planner().locator('body').evaluate(() => (window as unknown as { plannerDebug: { timelineSeries(): [string, number][] } }).plannerDebug.timelineSeries());
    const measured = series.find(([name]) => name === 'Measured (cpu)');
    const events = (series.find(([name]) => name === 'Weights') ?? ['', 0])[1];
    assert.ok(measured && events > 10 && measured[1] === events, `every planned event has its measurement: ${JSON.stringify(series)}`);
    await page.screenshot({ path: join(RESULTS, 'e2e-measured.png') });
  });

  await t.test('broken JSON shows the problem inline; an edit re-plans', async () => {
    const before = await panelRows();
    const edited = { ...hfConfig('llama_60m'), hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12 };
    const text = JSON.stringify(edited, null, 2) + '\n';
    await replaceEditorText(text.replace('"vocab_size": 32000,', '"vocab_size": 32000'));
    await planner().locator('.problems', { hasText: 'Line' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await panelRows(), before, 'the last good numbers stay while the JSON is broken');
    await page.screenshot({ path: join(RESULTS, 'e2e-broken-json.png') });
    await replaceEditorText(text);
    const expected = cli(text);
    const rows = await waitForRows((r) => r[0].total === expected[0].total, 'the edited config');
    assert.deepEqual(rows, expected);
    assert.equal(await planner().locator('.problems').isVisible(), false);
    await page.keyboard.press('Control+S');
    // Saved, so that the reload below finds the edited config on disk.
    const deadline = Date.now() + 10_000;
    while (!readFileSync(join(workspace, 'config.json'), 'utf8').includes('"hidden_size": 768')) {
      if (Date.now() > deadline) throw new Error('config.json was not saved');
      await page.waitForTimeout(100);
    }
  });

  await t.test('dark and high-contrast themes re-render the chart in their colours', async () => {
    const light = await chartColours();
    await setColorTheme('Dark Modern');
    await planner().locator('body.vscode-dark').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    const dark = await chartColours();
    assert.notDeepEqual(dark, light);
    await page.screenshot({ path: join(RESULTS, 'e2e-dark.png') });
    await setColorTheme('Dark High Contrast');
    await planner().locator('body.vscode-high-contrast').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    const hc = await chartColours();
    assert.notDeepEqual(hc, dark);
    await page.screenshot({ path: join(RESULTS, 'e2e-high-contrast.png') });
  });

  await t.test('after a window reload the panel comes back with the same numbers', async () => {
    const before = await panelRows();
    await page.reload();
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await planner().locator('#app.ready').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(RESULTS, 'e2e-restored.png') });
    // The restored page may render an intermediate snapshot first (e.g. while the editor reopens).
    const restored = await waitForRows((rows) => JSON.stringify(rows) === JSON.stringify(before), `the restored numbers ${JSON.stringify(before)}`);
    assert.deepEqual(restored, before);
    await page.screenshot({ path: join(RESULTS, 'e2e-restored.png') });
  });

  await t.test('not a supported family (explorer context menu): one problem inline, no numbers', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'bert.json' }).click({ button: 'right' });
    const item = page.locator('.context-view .action-label', { hasText: 'Plan SLTrain run' });
    await item.waitFor();
    // The menu lays itself out after it appears; a click during that can land on another entry.
    await page.waitForTimeout(500);
    await item.click();
    const problems = planner().locator('.problems');
    await problems.filter({ hasText: 'model_type' }).waitFor({ timeout: 30_000 });
    // One message naming the field that decided it and the families that are supported.
    assert.match(await problems.textContent() ?? '', /the supported families are llama, mistral, qwen2, qwen3/);
    assert.doesNotMatch(await problems.textContent() ?? '', /num_hidden_layers/);
    assert.equal(await planner().locator('.results').isVisible(), false);
    await page.screenshot({ path: join(RESULTS, 'e2e-not-llama.png') });
    // Fixed on disk (the file is not open in an editor): the file watcher re-plans.
    writeFileSync(join(workspace, 'bert.json'), JSON.stringify(hfConfig('llama_20m'), null, 2) + '\n');
    await waitForRows(() => true, 'numbers after the file was fixed on disk');
    assert.equal(await planner().locator('.problems').isVisible(), false);
  });

  await t.test('an open Qwen2.5 config.json plans as the CLI plans it', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'qwen2.5-0.5b.json' }).click();
    await page.locator('.tab.active', { hasText: 'qwen2.5-0.5b.json' }).waitFor();
    await runCommand('Plan SLTrain run');
    const expected = cli(readFileSync(join(workspace, 'qwen2.5-0.5b.json'), 'utf8'));
    const rows = await waitForRows((r) => r[0].total === expected[0].total, 'the Qwen2.5-0.5B plan');
    assert.deepEqual(rows, expected);
    assert.equal(await planner().locator('.problems').isVisible(), false);
    await page.screenshot({ path: join(RESULTS, 'e2e-qwen.png') });
  });

  await t.test('from a JSON that is not a config, the quick pick offers presets', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'notes.json' }).click();
    await page.locator('.tab.active', { hasText: 'notes.json' }).waitFor();
    await runCommand('Plan SLTrain run');
    await page.locator('.quick-input-widget input[placeholder*="preset"]').waitFor();
    await page.keyboard.insertText('llama_130m');
    await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: 'llama_130m' }).waitFor();
    await page.keyboard.press('Enter');
    await planner().locator('.source', { hasText: 'llama_130m' }).waitFor({ timeout: 30_000 });
    const out = execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'plan', '--model', 'llama_130m', '--method', 'all', '--json'], { encoding: 'utf8' });
    const expected = (JSON.parse(out) as CliResult[]).map((r) => r.peak.bytes);
    const rows = await waitForRows((r) => r[0].peak === expected[0], 'the preset plan');
    assert.deepEqual(rows.map((r) => r.peak), expected);
    assert.equal(await planner().locator('.problems').isVisible(), false);
    // A control change goes to the host and comes back planned, as `--batch 8` would.
    await planner().locator('#micro-batch input').fill('8');
    const batched = (JSON.parse(execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'plan', '--model', 'llama_130m',
      '--method', 'all', '--batch', '8', '--json'], { encoding: 'utf8' })) as CliResult[]).map((r) => r.peak.bytes);
    const after = await waitForRows((r) => r[0].peak === batched[0], 'the plan at micro-batch 8');
    assert.deepEqual(after.map((r) => r.peak), batched);
    // An option the model cannot take is named with the panel's label; the numbers stay.
    await planner().locator('#rank input').fill('5000');
    await planner().locator('.problems', { hasText: 'Rank r 5000' }).waitFor({ timeout: 30_000 });
    assert.deepEqual((await panelRows()).map((r) => r.peak), batched);
    await planner().locator('#rank input').fill('256');
    await planner().locator('.problems').waitFor({ state: 'hidden', timeout: 30_000 });
  });

  await t.test('no script was refused by a CSP along the way', () => {
    assert.deepEqual(cspViolations, []);
  });
});
