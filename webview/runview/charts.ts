// The live charts, one per chart of the step-metric table (loss, learning rate, gradient norm, tokens/s,
// memory). Built for 100k+ points per series:
// chart-level `parsing: false` with {x, y} points sorted by x (required for decimation), min-max
// decimation on a linear x axis, no animation, and redraws batched by the caller (update('none')).
import {
  Chart, Decimation, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip,
  type ChartConfiguration, type ChartDataset,
} from 'chart.js';
import type { ChartTheme } from '../chartTheme';
import { STEP_CHARTS } from '../../src/core/events/stepMetrics';
import { GIB, PLAIN_CHARTS, type Pt, type RunSeries } from './series';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Decimation);

/** A chart id of the step-metric table: loss, lr, gradNorm, tokens, memory. */
export type ChartKey = string;
export const CHART_KEYS: readonly ChartKey[] = STEP_CHARTS.map((c) => c.id);
type LineDataset = ChartDataset<'line', Pt[]>;

export interface ViewOptions {
  logScale: boolean;
  smoothing: number;
}

function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return color;
  const n = Number.parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function line(label: string, data: Pt[], color: string, extra: Partial<LineDataset> = {}): LineDataset {
  return { label, data, borderColor: color, backgroundColor: color, borderWidth: 1.5, pointRadius: 0, spanGaps: false, ...extra };
}

function baseConfig(theme: ChartTheme, yTitle: string): ChartConfiguration<'line', Pt[]> {
  const font = { family: theme.fontFamily, size: theme.fontSize - 1 };
  return {
    type: 'line',
    data: { datasets: [] },
    options: {
      parsing: false,
      normalized: true,
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: {
        decimation: { enabled: true, algorithm: 'min-max' },
        legend: { labels: { color: theme.foreground, font, boxWidth: 12, filter: (item) => !item.text.startsWith('_') } },
        tooltip: { enabled: true },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'step', color: theme.foreground, font }, ticks: { color: theme.foreground, font }, grid: { color: theme.grid } },
        y: {
          type: 'linear', title: { display: true, text: yTitle, color: theme.foreground, font },
          // Chart.js's own numeric ticks pick the precision from the step, so a narrow loss range stays legible.
          ticks: { color: theme.foreground, font },
          grid: { color: theme.grid },
        },
      },
    },
  };
}

export class RunCharts {
  private readonly charts = new Map<ChartKey, Chart<'line', Pt[]>>();

  constructor(canvases: Record<ChartKey, HTMLCanvasElement>, private theme: ChartTheme) {
    for (const c of STEP_CHARTS) {
      if (canvases[c.id]) this.charts.set(c.id, new Chart(canvases[c.id], baseConfig(theme, c.title)));
    }
  }

  /** Rebuilds the dataset lists (runs added/removed, smoothing toggled on/off, theme changed). */
  setRuns(runs: readonly RunSeries[], view: ViewOptions): void {
    const color = (i: number): string => this.theme.palette[i % this.theme.palette.length];
    const many = runs.length > 1;
    const name = (r: RunSeries, what: string): string => (many ? `${r.meta.name} ${what}` : what);
    const loss: LineDataset[] = [];
    const plain: Record<string, LineDataset[]> = Object.fromEntries(PLAIN_CHARTS.map((c) => [c.id, []]));
    const memory: LineDataset[] = [];
    runs.forEach((r, i) => {
      const c = color(i);
      if (view.smoothing > 0) {
        loss.push(line(`_${name(r, 'train raw')}`, r.loss, withAlpha(c, 0.25), { borderWidth: 1 }));
        loss.push(line(name(r, 'train'), r.lossSmooth, c));
      } else {
        loss.push(line(name(r, 'train'), r.loss, c));
      }
      loss.push(line(name(r, 'eval'), r.evalLoss, c, { pointRadius: 3.5, pointStyle: 'rectRot', borderDash: [4, 3], borderWidth: 1 }));
      for (const chart of PLAIN_CHARTS) plain[chart.id].push(line(name(r, chart.title), r.plain[chart.metric], c));
      memory.push(line(name(r, 'measured peak'), r.memPeak, c));
      if (r.meta.predictedPeakBytes !== undefined) {
        memory.push(line(name(r, 'predicted peak'), predictedLine(r), withAlpha(c, 0.8), { borderDash: [6, 4], borderWidth: 1.5 }));
      }
    });
    this.set('loss', loss);
    for (const [id, datasets] of Object.entries(plain)) this.set(id, datasets);
    this.set('memory', memory);
    const lossChart = this.charts.get('loss');
    if (lossChart?.options.scales?.y) lossChart.options.scales.y.type = view.logScale ? 'logarithmic' : 'linear';
  }

  /** Stretches the predicted-peak reference lines to the latest step (they are 2-point datasets). */
  extendReferenceLines(runs: readonly RunSeries[]): void {
    for (const r of runs) if (r.meta.predictedPeakBytes !== undefined) predictedLine(r);
  }

  /** Redraws without animation; the caller calls this at most every ~250 ms. Returns the ms it took. */
  render(): number {
    const t0 = performance.now();
    for (const chart of this.charts.values()) chart.update('none');
    return performance.now() - t0;
  }

  applyTheme(theme: ChartTheme, runs: readonly RunSeries[], view: ViewOptions): void {
    this.theme = theme;
    for (const chart of this.charts.values()) {
      const s = chart.options.scales;
      for (const axis of [s?.x, s?.y]) {
        if (!axis) continue;
        if (axis.ticks) axis.ticks.color = theme.foreground;
        if (axis.grid) axis.grid.color = theme.grid;
      }
      const legend = chart.options.plugins?.legend?.labels;
      if (legend) legend.color = theme.foreground;
    }
    this.setRuns(runs, view);
  }

  private set(key: ChartKey, datasets: LineDataset[]): void {
    const chart = this.charts.get(key);
    if (chart) chart.data.datasets = datasets;
  }
}

/** A flat line at the planner's predicted peak from step 0 to the last step (kept as one array per run). */
function predictedLine(r: RunSeries): Pt[] {
  const y = r.meta.predictedPeakBytes === undefined ? null : r.meta.predictedPeakBytes / GIB;
  const last = Math.max(1, r.lastStep);
  r.memRef.length = 0;
  r.memRef.push({ x: 0, y }, { x: last, y });
  return r.memRef;
}
