// The run view page: receives a snapshot after its `ready`, then appends; keeps its own point arrays
// (series.ts) and redraws at most every 250 ms however fast points arrive.
import type { GpuReading, HostToRunView, RunMeta, RunSnapshot, RunViewDebug } from '../../src/webviewApi/protocol/runview';
import { readChartTheme, watchChartTheme } from '../chartTheme';
import { CHART_KEYS, RunCharts, type ChartKey, type ViewOptions } from './charts';
import { formatEta } from './format';
import { appendColumns, etaSeconds, newSeries, resmooth, type RunSeries } from './series';
import { trackerLinks } from './trackers';
import { vscodeApi } from './vscodeApi';

const FRAME_MS = 250;

const saved = vscodeApi.getState();
const view: ViewOptions = { logScale: saved?.logScale ?? false, smoothing: saved?.smoothing ?? 0.6 };
const runs = new Map<string, RunSeries>();
/** Newest GPU readings per run (remote hosts with nvidia-smi); not part of the series or the state. */
const gpus = new Map<string, GpuReading[]>();

const debug: RunViewDebug = {
  lastRenderMs: 0, lastMessageToDrawnMs: 0, renders: 0, points: 0, lastRenderAt: 0, ingestLatencyMs: [], drawnLatencyMs: [],
};
/** Engine times (unix s) of the newest point of each append since the last redraw. */
let pendingEngineTimes: number[] = [];

function record(list: number[], value: number): void {
  list.push(value);
  if (list.length > 1000) list.shift();
}
(window as unknown as { runviewDebug: RunViewDebug }).runviewDebug = debug;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- layout ---------------------------------------------------------------------------------------
const app = document.getElementById('app') ?? document.body;
const header = el('header', 'runs');
const errorBanner = el('div', 'error-banner');
errorBanner.hidden = true;
const toolbar = el('div', 'toolbar');
const logToggle = el('input');
logToggle.type = 'checkbox';
logToggle.id = 'log-scale';
logToggle.checked = view.logScale;
const logLabel = el('label', undefined, 'log-scale loss');
logLabel.htmlFor = 'log-scale';
const smooth = el('input');
smooth.type = 'range';
smooth.id = 'smoothing';
smooth.min = '0';
smooth.max = '0.99';
smooth.step = '0.01';
smooth.value = String(view.smoothing);
const smoothLabel = el('label', undefined, `smoothing ${view.smoothing.toFixed(2)}`);
smoothLabel.htmlFor = 'smoothing';
toolbar.append(logToggle, logLabel, smoothLabel, smooth);
const grid = el('section', 'charts');
const canvases = {} as Record<ChartKey, HTMLCanvasElement>;
for (const key of CHART_KEYS) {
  const box = el('div', `chart chart-${key}`);
  const canvas = el('canvas');
  canvas.id = `chart-${key}`;
  box.append(canvas);
  grid.append(box);
  canvases[key] = canvas;
}
const empty = el('p', 'empty', 'Waiting for the run to start…');
app.append(header, errorBanner, toolbar, empty, grid);

const charts = new RunCharts(canvases, readChartTheme());
watchChartTheme((theme) => {
  charts.applyTheme(theme, [...runs.values()], view);
  scheduleRender();
});

// --- rendering ------------------------------------------------------------------------------------
let dirty = false;
let timer: number | undefined;
let lastRender = 0;
let lastMessageAt = 0;

/** Coalesces: at most one redraw per FRAME_MS, the first one as soon as allowed. */
function scheduleRender(): void {
  dirty = true;
  if (timer !== undefined) return;
  const wait = Math.max(0, FRAME_MS - (performance.now() - lastRender));
  timer = window.setTimeout(render, wait);
}

function render(): void {
  timer = undefined;
  if (!dirty) return;
  dirty = false;
  const list = [...runs.values()];
  charts.extendReferenceLines(list);
  debug.lastRenderMs = charts.render();
  lastRender = performance.now();
  debug.lastMessageToDrawnMs = lastRender - lastMessageAt;
  const drawnAt = Date.now();
  for (const t of pendingEngineTimes) record(debug.drawnLatencyMs, drawnAt - t * 1000);
  pendingEngineTimes = [];
  debug.renders++;
  debug.lastRenderAt = Date.now();
  debug.points = list.reduce((n, r) => n + r.loss.length, 0);
  renderHeader();
}

function renderHeader(): void {
  header.replaceChildren(...[...runs.values()].map(runChip));
  empty.hidden = [...runs.values()].some((r) => r.loss.length > 0);
  const withError = [...runs.values()].filter((r) => r.meta.lastError && r.meta.status !== 'running');
  const live = [...runs.values()].filter((r) => r.meta.lastError);
  const shown = withError[0] ?? live[0];
  errorBanner.hidden = !shown;
  if (shown?.meta.lastError) {
    const code = shown.meta.lastError.code ? ` [${shown.meta.lastError.code}]` : '';
    errorBanner.textContent = `${shown.meta.name}: ${shown.meta.lastError.message}${code}`;
  }
}

function runChip(r: RunSeries): HTMLElement {
  const chip = el('div', `run status-${r.meta.status}`);
  chip.dataset.runId = r.meta.id;
  chip.append(el('span', 'name', r.meta.name), el('span', 'badge', r.meta.status));
  const total = r.meta.totalSteps !== undefined ? `/${r.meta.totalSteps}` : '';
  if (r.lastStep >= 0) chip.append(el('span', 'step', `step ${r.lastStep}${total}`));
  const eta = formatEta(etaSeconds(r));
  if (eta) chip.append(el('span', 'eta', `ETA ${eta}`));
  if (r.meta.device) chip.append(el('span', 'device', r.meta.device));
  const readings = r.meta.status === 'running' ? gpus.get(r.meta.id) ?? [] : [];
  if (readings.length > 0) chip.append(el('span', 'gpu', readings.map(formatGpu).join('  ')));
  if (r.meta.status === 'running') {
    const stop = el('button', 'stop', 'Stop');
    stop.addEventListener('click', () => vscodeApi.postMessage({ type: 'stop', runId: r.meta.id }));
    chip.append(stop);
  }
  const reveal = el('button', 'reveal', 'Folder');
  reveal.addEventListener('click', () => vscodeApi.postMessage({ type: 'revealRun', runId: r.meta.id }));
  chip.append(reveal);
  chip.append(...trackerLinks(r.meta, (name, action) => vscodeApi.postMessage({ type: 'tracker', runId: r.meta.id, name, action })));
  return chip;
}

function formatGpu(g: GpuReading): string {
  const gib = (b: number): string => (b / 2 ** 30).toFixed(1);
  return `${g.host} GPU${g.gpu} ${Math.round(g.utilizationPct)}% · ${gib(g.memoryUsedBytes)}/${gib(g.memoryTotalBytes)} GiB`;
}

function saveState(): void {
  vscodeApi.setState({ runIds: [...runs.keys()], logScale: view.logScale, smoothing: view.smoothing });
}

// --- messages -------------------------------------------------------------------------------------
function loadSnapshot(snapshots: readonly RunSnapshot[]): void {
  runs.clear();
  for (const s of snapshots) {
    const series = newSeries({ ...s.meta });
    appendColumns(series, s.steps, s.evals, view.smoothing);
    runs.set(s.meta.id, series);
  }
  charts.setRuns([...runs.values()], view);
  saveState();
}

function setMeta(meta: RunMeta): void {
  const r = runs.get(meta.id);
  if (!r) return;
  const predictedChanged = r.meta.predictedPeakBytes !== meta.predictedPeakBytes;
  r.meta = { ...meta };
  if (predictedChanged) charts.setRuns([...runs.values()], view);
}

window.addEventListener('message', (event: MessageEvent<HostToRunView>) => {
  const msg = event.data;
  lastMessageAt = performance.now();
  switch (msg.type) {
    case 'snapshot':
      loadSnapshot(msg.runs);
      break;
    case 'append': {
      const r = runs.get(msg.runId);
      if (r) appendColumns(r, msg.steps, msg.evals, view.smoothing);
      const newest = msg.steps.time.at(-1);
      if (r && newest !== undefined) {
        record(debug.ingestLatencyMs, Date.now() - newest * 1000);
        pendingEngineTimes.push(newest);
      }
      break;
    }
    case 'meta':
      setMeta(msg.meta);
      break;
    case 'gpu':
      gpus.set(msg.runId, msg.gpus);
      break;
    case 'remove':
      runs.delete(msg.runId);
      gpus.delete(msg.runId);
      charts.setRuns([...runs.values()], view);
      saveState();
      break;
  }
  scheduleRender();
});

logToggle.addEventListener('change', () => {
  view.logScale = logToggle.checked;
  charts.setRuns([...runs.values()], view);
  saveState();
  scheduleRender();
});

smooth.addEventListener('input', () => {
  const before = view.smoothing;
  view.smoothing = Number(smooth.value);
  smoothLabel.textContent = `smoothing ${view.smoothing.toFixed(2)}`;
  for (const r of runs.values()) resmooth(r, view.smoothing);
  // Raw-only ⇄ raw + smoothed changes the dataset list.
  if ((before === 0) !== (view.smoothing === 0)) charts.setRuns([...runs.values()], view);
  saveState();
  scheduleRender();
});

// The host answers with a snapshot; nothing is posted to us before this.
vscodeApi.postMessage({ type: 'ready' });
