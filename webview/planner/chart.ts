// The stacked bar chart: one bar per method, one stack segment per memory component. Values arrive as
// bytes in the snapshot; the chart only scales them to GB for the axis.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartDataset,
  type Plugin,
} from 'chart.js';
import type { PlanResult } from '../../src/core/planner/types';
import { GB, type ChartMode } from '../../src/webviewApi/protocol/planner';
import type { ChartTheme } from '../chartTheme';
import { exactBytes, formatGB, METHOD_LABELS } from './format';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// Fixed order so each component keeps its colour and its place in the stack whatever the method.
// Optimizer temporaries get the theme's red (a short-lived spike); buffers, always tiny, the last colour.
const KEY_ORDER = [
  'weights', 'optimizerStates', 'gradients', 'indices', 'projectors', 'optimizerTemp',
  'workspace', 'activations', 'logits', 'buffers', 'ddpBuckets', 'gathered',
];

interface Series {
  key: string;
  label: string;
  /** Exact bytes per method, for the tooltip. */
  bytes: number[];
}

function seriesFor(results: readonly PlanResult[], mode: ChartMode): Series[] {
  if (mode === 'estimate') {
    return [
      { key: 'weights', label: 'Weights', bytes: results.map((r) => r.estimate.weightsBytes) },
      { key: 'optimizerStates', label: 'Optimizer states', bytes: results.map((r) => r.estimate.optimizerBytes) },
    ];
  }
  const labels = new Map<string, string>();
  for (const r of results) for (const item of r.peak.breakdown) if (item.bytes > 0) labels.set(item.key, item.label);
  const keys = [...labels.keys()].sort((a, b) => rankOf(a) - rankOf(b));
  return keys.map((key) => ({
    key,
    label: labels.get(key) ?? key,
    bytes: results.map((r) => r.peak.breakdown.filter((i) => i.key === key).reduce((s, i) => s + i.bytes, 0)),
  }));
}

/** A component's place in the palette: the same colour in the bars and in the timeline. */
export function rankOf(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i < 0 ? KEY_ORDER.length : i;
}

/** Draws the GPU capacity as a dashed line when it falls inside the axis (it never stretches the axis). */
function gpuLinePlugin(state: { gpuBytes: number; theme: ChartTheme; mode: ChartMode }): Plugin<'bar'> {
  return {
    id: 'gpuLine',
    afterDatasetsDraw(chart): void {
      const y = chart.scales.y;
      const gb = state.gpuBytes / GB;
      if (state.mode !== 'peak' || gb > y.max) return;
      const py = y.getPixelForValue(gb);
      const { left, right } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = state.theme.foreground;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(right, py);
      ctx.stroke();
      // The label sits on a patch of the editor background so that bars behind it do not hide it.
      const text = `GPU ${formatGB(state.gpuBytes)}`;
      ctx.setLineDash([]);
      ctx.font = `${state.theme.fontSize}px ${state.theme.fontFamily}`;
      const w = ctx.measureText(text).width + 8;
      const h = state.theme.fontSize + 6;
      ctx.fillStyle = state.theme.background;
      ctx.fillRect(right - w, py - h - 2, w, h);
      ctx.fillStyle = state.theme.foreground;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(text, right - 4, py - 4);
      ctx.restore();
    },
  };
}

export interface PlannerChart {
  render(results: readonly PlanResult[], mode: ChartMode, gpuBytes: number): void;
  applyTheme(theme: ChartTheme): void;
}

export function createChart(canvas: HTMLCanvasElement, initialTheme: ChartTheme): PlannerChart {
  const state = { gpuBytes: 0, theme: initialTheme, mode: 'peak' as ChartMode };
  let series: Series[] = [];
  const chart = new Chart<'bar', number[], string>(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [] },
    plugins: [gpuLinePlugin(state)],
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: 'GB' } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: {
            label: (item) => {
              const bytes = series[item.datasetIndex]?.bytes[item.dataIndex] ?? 0;
              return `${item.dataset.label ?? ''}: ${formatGB(bytes)} (${exactBytes(bytes)})`;
            },
          },
        },
      },
    },
  });

  const styleDataset = (ds: ChartDataset<'bar', number[]>, key: string): void => {
    const t = state.theme;
    const color = t.palette[rankOf(key) % t.palette.length];
    ds.backgroundColor = color;
    ds.borderColor = t.border ?? color;
    ds.borderWidth = t.border ? 1 : 0;
  };

  const applyThemeOptions = (): void => {
    const t = state.theme;
    const o = chart.options;
    const font = { family: t.fontFamily, size: t.fontSize };
    o.color = t.foreground;
    o.font = font;
    for (const axis of [o.scales?.x, o.scales?.y]) {
      if (!axis) continue;
      axis.ticks = { ...axis.ticks, color: t.foreground, font };
      axis.grid = { ...axis.grid, color: t.grid };
      axis.border = { ...axis.border, color: t.grid };
    }
    const y = o.scales?.y;
    if (y && 'title' in y && y.title) y.title.color = t.foreground;
    if (o.plugins?.legend?.labels) o.plugins.legend.labels = { ...o.plugins.legend.labels, color: t.foreground, font };
  };

  applyThemeOptions();

  let last: { results: readonly PlanResult[]; mode: ChartMode; gpuBytes: number } | undefined;

  const render = (results: readonly PlanResult[], mode: ChartMode, gpuBytes: number): void => {
    last = { results, mode, gpuBytes };
    state.mode = mode;
    state.gpuBytes = gpuBytes;
    series = seriesFor(results, mode);
    chart.data.labels = results.map((r) => METHOD_LABELS[r.method]);
    // Fresh dataset objects each time: Chart.js caches resolved element options per dataset object, so
    // recolouring an existing dataset in place would leave the bars in the old theme's colours.
    chart.data.datasets = series.map((s) => {
      const ds: ChartDataset<'bar', number[]> = { label: s.label, data: s.bytes.map((b) => b / GB) };
      styleDataset(ds, s.key);
      return ds;
    });
    chart.update('none');
  };

  return {
    render,
    applyTheme(theme): void {
      state.theme = theme;
      applyThemeOptions();
      if (last) render(last.results, last.mode, last.gpuBytes);
      else chart.update('none');
    },
  };
}
