// Human renderings shared by the CLI and the extension (tree descriptions, status bar).
import { escapeControls } from '../events/escape';
import { DEFAULT_MAX_LINE_BYTES } from '../events/parser';
import { STEP_METRICS, type StepMetric } from '../events/stepMetrics';
import type { EngineEvent, SkippedLine, StepEvent } from '../events/types';
import type { RunMeta, TrackerLink } from '../../webviewApi/protocol/runview';

export function formatNumber(n: number | undefined, digits = 4): string {
  if (n === undefined) return '-';
  if (!Number.isFinite(n)) return String(n);
  if (n !== 0 && (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e6)) return n.toExponential(2);
  return Number(n.toPrecision(digits)).toString();
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}:${String(r).padStart(2, '0')}`;
}

/** The attach table's columns: the step, then every metric of the table that has a CLI column. */
const COLUMNS = STEP_METRICS.flatMap((m: StepMetric) => (m.cli ? [{ key: m.key, unit: m.unit, ...m.cli }] : []));
const STEP_WIDTH = 8;

export function tableHeader(): string {
  return ['step'.padStart(STEP_WIDTH), ...COLUMNS.map((c) => c.header.padStart(c.width))].join(' ');
}

function stepRow(e: StepEvent): string {
  const cell = (c: (typeof COLUMNS)[number]): string => {
    const v = e[c.key] as number | undefined;
    return (c.unit === 'bytes' ? formatBytes(v) : formatNumber(v, c.digits ?? 4)).padStart(c.width);
  };
  return [String(e.step).padStart(STEP_WIDTH), ...COLUMNS.map(cell)].join(' ');
}

/**
 * One line per event for `sltrain attach` (a table row for steps). The event's strings come from the
 * run folder, so the line is escaped: it can neither drive the terminal nor break into a forged line.
 */
export function formatEventLine(e: EngineEvent): string {
  return escapeControls(eventLine(e));
}

function eventLine(e: EngineEvent): string {
  switch (e.event) {
    case 'step':
      return stepRow(e);
    case 'eval':
      return `eval     step ${e.step}  loss ${formatNumber(e.loss)}${e.ppl !== undefined ? `  ppl ${formatNumber(e.ppl)}` : ''}`;
    case 'start':
      return `start    device ${e.device ?? '?'}  world size ${e.worldSize ?? 1}${typeof e.config.steps === 'number' ? `  steps ${e.config.steps}` : ''}`;
    case 'checkpoint':
      return `ckpt     step ${e.step}  ${e.path}`;
    case 'warning':
    case 'error':
      return `${e.event.padEnd(8)} ${e.code ? `[${e.code}] ` : ''}${e.message}`;
    case 'tracker':
      return `tracker  ${e.name}  ${[e.url, e.path, e.command && `(${e.command})`].filter(Boolean).join('  ')}`;
    case 'end':
      return `end      ${e.status}${e.step !== undefined ? ` at step ${e.step}` : ''}`;
    case 'unknown':
      return `${e.name.padEnd(8)} (unknown event)`;
  }
}

const SKIP_REASONS: Record<SkippedLine['reason'], string> = {
  tooLong: `longer than the ${DEFAULT_MAX_LINE_BYTES}-byte limit for one event`,
  garbage: 'not a JSON object',
  invalid: 'an event with missing or wrongly typed fields',
};

/** Why `sltrain attach` did not show a line of events.jsonl. */
export function formatSkippedLine(s: SkippedLine, file: string): string {
  const what = s.reason === 'tooLong' ? 'the line' : `the ${s.bytes}-byte line`;
  return `warning: skipped ${what} at byte ${s.offset} of ${escapeControls(file)}: ${SKIP_REASONS[s.reason]}.`;
}

/**
 * A run's text fields for the run view, escaped as for the terminal: the page shows them as text, so
 * markup is harmless there, but a carriage return, a line separator or a bidi override in a run name
 * or an error message would still reorder or forge what the user reads. The id stays as it is: it is
 * the key the page sends back, never shown.
 */
export function displayMeta(meta: RunMeta): RunMeta {
  const out: RunMeta = { ...meta, name: escapeControls(meta.name) };
  if (meta.device !== undefined) out.device = escapeControls(meta.device);
  if (meta.lastError) {
    out.lastError = { message: escapeControls(meta.lastError.message) };
    if (meta.lastError.code !== undefined) out.lastError.code = escapeControls(meta.lastError.code);
  }
  if (meta.trackers) {
    out.trackers = meta.trackers.map((t) => Object.fromEntries(
      Object.entries(t).map(([k, v]) => [k, typeof v === 'string' ? escapeControls(v) : v]),
    ) as TrackerLink);
  }
  return out;
}
