// The planner page: builds the layout once, then renders every snapshot the host sends. It computes no
// memory figures itself; it only turns the host's PlanResults into controls, a chart and a table.
import type { ChartMode, HostToPage, PlannerSnapshot } from '../../src/webviewApi/protocol/planner';
import { readChartTheme, watchChartTheme } from '../chartTheme';
import { button, radioGroup, registerComponents } from '../ui/components';
import { notModelled } from '../../src/core/runSchema';
import { createChart } from './chart';
import { buildControls } from './controls';
import { measuredStatus, renderChanges } from './fitList';
import { createTimelineChart } from './timelineChart';
import { renderProblems, renderTable, renderVerdict } from './table';
import { vscodeApi } from './vscodeApi';

registerComponents();

const app = document.getElementById('app') ?? document.body;
let snapshot: PlannerSnapshot | undefined;
let chartMode: ChartMode = vscodeApi.getState()?.chartMode ?? 'peak';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const header = el('header', 'header');
const title = el('h1', 'title', 'SLTrain plan');
const source = el('span', 'source');
const change = button('change-config', 'Change config…', 'secondary');
change.onClick(() => vscodeApi.postMessage({ type: 'pickConfig' }));
const titleBox = el('div', 'title-box');
titleBox.append(title, source);
header.append(titleBox, change.element);

const problems = el('section', 'problems');
problems.setAttribute('role', 'alert');
problems.hidden = true;

const controls = buildControls((options) => vscodeApi.postMessage({ type: 'setOptions', options }));

const verdict = el('p', 'verdict');
verdict.setAttribute('aria-live', 'polite');

const mode = radioGroup('chart-mode', 'Chart', [
  { value: 'peak', label: 'Real peak (max_memory_allocated)' },
  { value: 'estimate', label: "Papers' estimate (weights + optimizer)" },
]);
mode.set(chartMode);
const canvas = el('canvas', 'chart');
canvas.setAttribute('role', 'img');
const chartBox = el('div', 'chart-box');
chartBox.appendChild(canvas);
const chart = createChart(canvas, readChartTheme());

// The selected method's step over time, and the engine's measurement of it on request.
const timelineTitle = el('h2', 'timeline-title', 'One training step');
const measure = button('measure', 'Measure here', 'secondary');
measure.onClick(() => vscodeApi.postMessage({ type: 'measure' }));
const measureNote = el('span', 'measure-status');
measureNote.setAttribute('aria-live', 'polite');
const timelineHead = el('div', 'timeline-head');
timelineHead.append(timelineTitle, measure.element, measureNote);
const timelineCanvas = el('canvas', 'timeline');
timelineCanvas.setAttribute('role', 'img');
const timelineBox = el('div', 'timeline-box');
timelineBox.appendChild(timelineCanvas);
const timeline = createTimelineChart(timelineCanvas, readChartTheme());
(window as unknown as { plannerDebug: unknown }).plannerDebug = timeline.debug;
const timelineSection = el('section', 'timeline-section');
timelineSection.append(timelineHead, timelineBox);

const changes = el('section', 'changes');
changes.hidden = true;

const table = el('table', 'numbers');
table.setAttribute('aria-label', 'Parameters and memory per method');

const launch = button('launch', 'Launch with these settings');
launch.onClick(() => vscodeApi.postMessage({ type: 'launch' }));
const launchReason = el('span', 'launch-reason');
const footer = el('footer', 'footer');
footer.append(launch.element, launchReason);

// Every engine option the plan leaves to the engine's defaults or the launch dialog, with the reason:
// nothing the engine takes is silently dropped between the plan and the run.
const notModelledBox = el('details', 'not-modelled');
notModelledBox.appendChild(el('summary', '', 'Engine options not modelled by the plan'));
const notModelledList = el('ul', '');
for (const o of notModelled()) {
  const item = el('li', '');
  item.append(el('code', '', o.flag), document.createTextNode(` — ${o.why}`));
  notModelledList.appendChild(item);
}
notModelledBox.appendChild(notModelledList);

// The answer first: the verdict, what to change, the charts; then the controls that change it, the numbers.
const charts = el('div', 'charts');
const barSection = el('section', 'bars');
barSection.append(mode.element, chartBox);
charts.append(barSection, timelineSection);
const results = el('section', 'results');
results.append(verdict, changes, charts);
const details = el('section', 'details');
details.append(table, notModelledBox);
app.append(header, problems, results, controls.element, details, footer);

function describeChart(s: PlannerSnapshot): string {
  const what = chartMode === 'peak' ? 'Peak memory' : "Papers' memory estimate";
  return `${what} per method, stacked by component, for ${s.source.label}.`;
}

function persist(): void {
  if (snapshot) vscodeApi.setState({ source: snapshot.source, overrides: snapshot.overrides, chartMode });
}

/** Renders one snapshot; synchronous, so a test can time it. */
function render(s: PlannerSnapshot): void {
  snapshot = s;
  source.textContent = s.source.label;
  source.title = s.source.kind === 'file' ? s.source.uri : `Bundled preset ${s.source.preset}`;
  renderProblems(problems, s.problems, s.stale, (line, column) =>
    vscodeApi.postMessage({ type: 'revealProblem', line, column }));
  controls.update(s.options, s.gpus);
  results.classList.toggle('stale', s.stale);
  results.hidden = s.results.length === 0;
  details.hidden = s.results.length === 0;
  renderVerdict(verdict, s.results, s.options);
  renderChanges(changes, s.changes, (options) => vscodeApi.postMessage({ type: 'setOptions', options }));
  renderTable(table, s.results, s.options.method);
  canvas.setAttribute('aria-label', describeChart(s));
  chart.render(s.results, chartMode, s.options.gpuMemoryBytes);
  const measured = s.measured.state === 'done' ? s.measured.timeline : undefined;
  timeline.render(s.timeline, s.options.gpuMemoryBytes, measured);
  timelineCanvas.setAttribute('aria-label', `Memory over one training step of ${s.options.method}, by category; ${timeline.peakText()}`);
  measure.setDisabled(s.measured.state === 'running' || !s.timeline);
  measureNote.textContent = measuredStatus(s.measured);
  measureNote.className = `measure-status ${s.measured.state}`;
  launch.element.hidden = s.launch.state === 'hidden';
  launch.setDisabled(s.launch.state !== 'enabled');
  launch.element.title = s.launch.reason ?? `Launch ${s.options.method} with the options above`;
  launchReason.textContent = s.launch.state === 'disabled' ? s.launch.reason ?? '' : '';
  app.classList.add('ready');
  persist();
}

mode.onChange((v) => {
  chartMode = v === 'estimate' ? 'estimate' : 'peak';
  if (snapshot) render(snapshot);
});

watchChartTheme((theme) => {
  chart.applyTheme(theme);
  timeline.applyTheme(theme);
});

window.addEventListener('message', (event: MessageEvent<HostToPage>) => {
  const msg = event.data;
  if (msg.type === 'snapshot') render(msg.snapshot);
});

// Only now can the host's first post be received.
vscodeApi.postMessage({ type: 'ready' });
