// The run view in headless Chromium: the ready handshake, snapshot/append/meta rendering, the error
// banner, compare overlay, a 100k-point snapshot (time printed, not asserted) and a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { debugInfo, posted, send, waitForRender, withRunView } from './page';
import { evalColumns, snapshot, stepColumns } from './data';

const RESULTS = resolve(__dirname, '../../../test/results');
let page: Page;
withRunView((p) => {
  page = p;
});

test('posts ready first, renders a snapshot, appends and status', async () => {
  await page.waitForFunction(() => (window as unknown as { posted: unknown[] }).posted.length > 0);
  assert.deepEqual((await posted(page))[0], { type: 'ready' });
  const meta = { id: 'r1', name: 'llama_60m sltrain', status: 'running' as const, totalSteps: 2000, predictedPeakBytes: 5.6e9, device: 'cuda:0' };
  const before0 = (await debugInfo(page)).renders;
  await send(page, { type: 'snapshot', runs: [snapshot(meta, 600)] });
  let d = await waitForRender(page, before0);
  assert.equal(d.points, 600);
  assert.equal(await page.textContent('.run .badge'), 'running');
  assert.match((await page.textContent('.run .step')) ?? '', /step 600\/2000/);
  assert.match((await page.textContent('.run .eta')) ?? '', /ETA \d+:\d\d/);

  // An overlapping append (steps 590..650) must not duplicate points.
  await send(page, { type: 'append', runId: 'r1', steps: stepColumns(590, 650), evals: evalColumns(650, 650) });
  d = await waitForRender(page, d.renders);
  assert.equal(d.points, 650);

  await send(page, { type: 'meta', meta: { ...meta, status: 'failed', lastError: { message: 'loss is NaN at step 650', code: 'diverged' } } });
  await waitForRender(page, d.renders);
  assert.equal(await page.textContent('.run .badge'), 'failed');
  assert.equal(await page.isVisible('.error-banner'), true);
  assert.match((await page.textContent('.error-banner')) ?? '', /NaN.*diverged/);
  assert.equal(await page.isVisible('.run button.stop'), false);
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: resolve(RESULTS, 'runview-failed.png') });
});

test('stop and folder buttons post typed messages', async () => {
  await send(page, { type: 'snapshot', runs: [snapshot({ id: 'r2', name: 'live', status: 'running', totalSteps: 100 }, 10)] });
  await page.waitForSelector('.run button.stop');
  await page.click('.run button.stop');
  await page.click('.run button.reveal');
  const msgs = await posted(page);
  assert.deepEqual(msgs.slice(-2), [{ type: 'stop', runId: 'r2' }, { type: 'revealRun', runId: 'r2' }]);
});

test('tracker links: open only for http(s) pages, folder only for runs on this machine, copy the command', async () => {
  const trackers = [
    { name: 'wandb', url: 'https://wandb.ai/me/sltrain/runs/abc' },
    { name: 'mlflow', url: 'javascript:alert(1)', command: 'mlflow ui --backend-store-uri file:///r/mlruns' },
    { name: 'tensorboard', path: '/r/tensorboard', command: 'tensorboard --logdir /r/tensorboard' },
  ];
  await send(page, { type: 'snapshot', runs: [snapshot({ id: 'r3', name: 'tracked', status: 'running', local: true, trackers }, 5)] });
  await page.waitForSelector('.run .tracker[data-tracker="tensorboard"]');
  assert.deepEqual(await page.$$eval('.run .tracker .tracker-name', (els) => els.map((e) => e.textContent)), ['W&B', 'MLflow', 'TensorBoard']);
  assert.equal(await page.locator('.tracker[data-tracker="mlflow"] button.tracker-open').count(), 0, 'no link for a non-http address');
  await page.click('.tracker[data-tracker="wandb"] button.tracker-open');
  await page.click('.tracker[data-tracker="tensorboard"] button.tracker-reveal');
  await page.click('.tracker[data-tracker="tensorboard"] button.tracker-copy');
  assert.deepEqual((await posted(page)).slice(-3), [
    { type: 'tracker', runId: 'r3', name: 'wandb', action: 'open' },
    { type: 'tracker', runId: 'r3', name: 'tensorboard', action: 'reveal' },
    { type: 'tracker', runId: 'r3', name: 'tensorboard', action: 'copy' },
  ]);
  // A remote run's folder is on its host: shown, not revealed.
  await send(page, { type: 'snapshot', runs: [snapshot({ id: 'r4', name: 'remote', status: 'running', local: false, trackers }, 5)] });
  await page.waitForSelector('.run[data-run-id="r4"] .tracker[data-tracker="tensorboard"]');
  assert.equal(await page.locator('.tracker[data-tracker="tensorboard"] button.tracker-reveal').count(), 0);
  assert.equal(await page.getAttribute('.tracker[data-tracker="tensorboard"]', 'title'), 'on the host: /r/tensorboard');
});

test('100k points: snapshot and live appends (times printed), compare overlay, screenshot', async () => {
  const n = 100_000;
  const big = snapshot({ id: 'big', name: 'sltrain r=128', status: 'running', totalSteps: 200_000, predictedPeakBytes: 5.6e9, device: 'cuda:0' }, n);
  const other = snapshot({ id: 'cmp', name: 'full-rank', status: 'completed', totalSteps: n, predictedPeakBytes: 7.9e9 }, n, 1.4);
  other.steps.memPeakBytes = other.steps.memPeakBytes.map((b) => (b === null ? null : b + 2.6e9));
  let d = await debugInfo(page);
  const t0 = Date.now();
  await send(page, { type: 'snapshot', runs: [big, other] });
  d = await waitForRender(page, d.renders);
  const total = Date.now() - t0;
  assert.equal(d.points, 2 * n);
  console.log(`# 2 × 100k-point snapshot: ${d.lastMessageToDrawnMs.toFixed(0)} ms from arrival in the page to drawn ` +
    `(chart update ${d.lastRenderMs.toFixed(1)} ms); ${total} ms including the test's transfer into the page`);

  // Live appends at 50 batches/s for ~1 s: the page coalesces them into ≤ 4-5 redraws.
  const rendersBefore = d.renders;
  const start = Date.now();
  for (let i = 0; i < 50; i++) {
    const from = n + 1 + i * 20;
    await send(page, { type: 'append', runId: 'big', steps: stepColumns(from, from + 19), evals: evalColumns(1, 0) });
    await new Promise((r) => setTimeout(r, 20));
  }
  d = await waitForRender(page, d.renders);
  await new Promise((r) => setTimeout(r, 300));
  d = await debugInfo(page);
  console.log(`# live appends: 1000 points in 50 messages over ${Date.now() - start} ms → ${d.renders - rendersBefore} redraws; ` +
    `last update at ${n + 1000} points/series took ${d.lastRenderMs.toFixed(1)} ms, ` +
    `${d.lastMessageToDrawnMs.toFixed(0)} ms from the last message to drawn`);
  // ≤ one redraw per 250 ms (plus the first and the last), however many messages arrived.
  assert.ok(d.renders - rendersBefore <= Math.ceil((Date.now() - start) / 250) + 2, 'redraws are coalesced');
  assert.equal(await page.locator('.run').count(), 2);

  await page.check('#log-scale');
  await page.fill('#smoothing', '0.9');
  await page.dispatchEvent('#smoothing', 'input');
  await waitForRender(page, d.renders);
  mkdirSync(RESULTS, { recursive: true });
  const file = resolve(RESULTS, 'runview.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
});
