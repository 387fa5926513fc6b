// The selected method's step over time: stacked areas by category at each event the planner reasons
// about, the GPU budget as a dashed line, the peak marked with what sets it, and — after "Measure
// here" — the engine's measured totals drawn over it, matched to the planned events by name.
import {
  CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
  type ChartDataset, type Plugin,
} from 'chart.js';
import { CATEGORY_LABELS, TIMELINE_CATEGORIES, type Timeline } from '../../src/core/planner/timeline';
import type { MeasuredTimeline } from '../../src/core/planner/measuredTimeline';
import { GB, type PlannerDebug } from '../../src/webviewApi/protocol/planner';
import type { ChartTheme } from '../chartTheme';
import { rankOf } from './chart';
import { exactBytes, formatGB } from './format';

Chart.register(LineController, LineElement, PointElement, Filler, CategoryScale, LinearScale, Legend, Tooltip);

export interface TimelineChart {
  render(timeline: Timeline | undefined, gpuBytes: number, measured: MeasuredTimeline | undefined): void;
  applyTheme(theme: ChartTheme): void;
  /** What the peak label says (the page's aria text). */
  peakText(): string;
  debug: PlannerDebug;
}

interface State {
  theme: ChartTheme;
  timeline?: Timeline;
  gpuBytes: number;
  measured?: MeasuredTimeline;
}

/** The largest categories at the peak: what sets it. */
export function peakLabel(t: Timeline): string {
  const e = t.events[t.peakIndex];
  const top = TIMELINE_CATEGORIES.filter((k) => e.bytes[k] > 0).sort((a, b) => e.bytes[b] - e.bytes[a]).slice(0, 2);
  return `peak ${formatGB(e.total)} at ${e.name}: ${top.map((k) => `${CATEGORY_LABELS[k].toLowerCase()} ${formatGB(e.bytes[k])}`).join(', ')}`;
}

function overlayPlugin(state: State): Plugin<'line'> {
  return {
    id: 'timelineOverlay',
    afterDatasetsDraw(chart): void {
      const t = state.timeline;
      if (!t) return;
      const { ctx, chartArea, scales } = chart;
      const theme = state.theme;
      ctx.save();
      ctx.font = `${theme.fontSize}px ${theme.fontFamily}`;
      const gb = state.gpuBytes / GB;
      if (gb <= scales.y.max) {
        const y = scales.y.getPixelForValue(gb);
        ctx.strokeStyle = theme.foreground;
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.moveTo(chartArea.left, y);
        ctx.lineTo(chartArea.right, y);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = theme.foreground;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'bottom';
        ctx.fillText(`GPU ${formatGB(state.gpuBytes)}`, chartArea.left + 4, y - 3);
      }
      // The peak: a marker on the top of the stack and its label, kept inside the plot.
      const x = scales.x.getPixelForValue(t.peakIndex);
      const y = scales.y.getPixelForValue(t.events[t.peakIndex].total / GB);
      ctx.fillStyle = theme.foreground;
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      const text = peakLabel(t);
      const w = ctx.measureText(text).width;
      const left = Math.min(Math.max(chartArea.left, x - w / 2), chartArea.right - w);
      const top = Math.max(chartArea.top + theme.fontSize + 2, y - 10);
      ctx.fillStyle = theme.background;
      ctx.fillRect(left - 3, top - theme.fontSize - 2, w + 6, theme.fontSize + 5);
      ctx.fillStyle = theme.foreground;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'bottom';
      ctx.fillText(text, left, top);
      ctx.restore();
    },
  };
}

export function createTimelineChart(canvas: HTMLCanvasElement, initialTheme: ChartTheme): TimelineChart {
  const state: State = { theme: initialTheme, gpuBytes: 0 };
  const chart = new Chart<'line', (number | null)[], string>(canvas, {
    type: 'line',
    data: { labels: [], datasets: [] },
    plugins: [overlayPlugin(state)],
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: 'GB' } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: {
            title: (items) => {
              const e = state.timeline?.events[items[0]?.dataIndex ?? 0];
              return e ? `${e.name}${e.module ? ` (${e.module})` : ''}: ${formatGB(e.total)}` : '';
            },
            label: (item) => {
              const v = item.raw as number | null;
              return v === null ? '' : `${item.dataset.label ?? ''}: ${formatGB(v * GB)} (${exactBytes(Math.round(v * GB))})`;
            },
          },
        },
      },
    },
  });

  const themeOptions = (): void => {
    const t = state.theme;
    const o = chart.options;
    const font = { family: t.fontFamily, size: t.fontSize };
    o.color = t.foreground;
    o.font = font;
    for (const axis of [o.scales?.x, o.scales?.y]) {
      if (!axis) continue;
      axis.ticks = { ...axis.ticks, color: t.foreground, font };
      axis.grid = { ...axis.grid, color: t.grid };
    }
    if (o.plugins?.legend?.labels) o.plugins.legend.labels = { ...o.plugins.legend.labels, color: t.foreground, font };
  };
  themeOptions();

  const draw = (): void => {
    const t = state.timeline;
    const theme = state.theme;
    if (!t) {
      chart.data.labels = [];
      chart.data.datasets = [];
      chart.update('none');
      return;
    }
    chart.data.labels = t.events.map((e) => e.name);
    const used = TIMELINE_CATEGORIES.filter((k) => t.events.some((e) => e.bytes[k] > 0));
    const areas: ChartDataset<'line', (number | null)[]>[] = used.map((k, i) => {
      const color = theme.palette[rankOf(k) % theme.palette.length];
      return {
        label: CATEGORY_LABELS[k], data: t.events.map((e) => e.bytes[k] / GB), stack: 'planned',
        fill: i === 0 ? 'origin' : '-1', backgroundColor: color, borderColor: theme.border ?? color,
        borderWidth: theme.border ? 1 : 0, pointRadius: 0, tension: 0,
      };
    });
    const datasets = [...areas];
    const m = state.measured;
    if (m) {
      // Not stacked: the measured total at each planned event it has (matched by name).
      const byName = new Map(m.events.map((e) => [e.name, e.allocatedBytes ?? e.tensorBytes]));
      datasets.push({
        label: `Measured (${m.device})`, data: t.events.map((e) => (byName.has(e.name) ? byName.get(e.name)! / GB : null)),
        stack: 'measured', yAxisID: 'y', fill: false, borderColor: theme.foreground, backgroundColor: theme.foreground,
        borderWidth: 3, borderDash: [6, 3], pointRadius: 3, tension: 0, spanGaps: true,
      });
    }
    chart.data.datasets = datasets;
    // The measured line is drawn on its own stack so it is not added onto the planned areas.
    chart.update('none');
  };

  return {
    render(timeline, gpuBytes, measured): void {
      state.gpuBytes = gpuBytes;
      if (timeline) state.timeline = timeline;
      else delete state.timeline;
      if (measured) state.measured = measured;
      else delete state.measured;
      draw();
    },
    applyTheme(theme): void {
      state.theme = theme;
      themeOptions();
      draw();
    },
    peakText(): string {
      return state.timeline ? peakLabel(state.timeline) : '';
    },
    debug: {
      timelinePoint(i) {
        const total = state.timeline?.events[i]?.total ?? 0;
        // Kept a pixel inside the plot: the last event sits on its right edge.
        const { left, right } = chart.chartArea;
        const x = Math.min(Math.max(chart.scales.x.getPixelForValue(i), left + 1), right - 1);
        return { x, y: chart.scales.y.getPixelForValue(total / GB / 2) };
      },
      timelineTooltip() {
        return chart.tooltip && chart.tooltip.opacity > 0 ? [...(chart.tooltip.title ?? [])] : [];
      },
      timelineSeries() {
        return chart.data.datasets.map((d) => [d.label ?? '', d.data.filter((v) => v !== null).length] as [string, number]);
      },
    },
  };
}
