// `sltrain plan --timeline` for terminals: one row per event of the step, a bar per row stacked by
// category (one glyph each, from the bottom of the stack), the total, and the peak marked. Long models
// show their first and last blocks of each pass; the peak's row is always shown.
import { TIMELINE_CATEGORIES, type Timeline, type TimelineCategory } from '../core/planner/timeline';
import { CATEGORY_LABELS } from '../core/planner/timeline';
import { formatGB } from '../core/units';

const WIDTH = 48;
/** Persistent state solid, what the step makes lighter: weights… workspace, gradients, activations, logits, temporaries. */
const GLYPHS: Record<TimelineCategory, string> = {
  weights: '█', optimizerStates: '▓', indices: '▞', projectors: '▚', buffers: '▘', workspace: '▖', ddpBuckets: '▙', gathered: '≡',
  gradients: '▒', activations: '░', logits: '·', optimizerTemp: '+',
};
/** Blocks shown at each end of a pass when a model has more than twice as many. */
const EDGE_BLOCKS = 2;

function bar(bytes: Record<TimelineCategory, number>, scale: number): string {
  let out = '';
  let sum = 0;
  for (const k of TIMELINE_CATEGORIES) {
    // Cumulative rounding: the bar's length is the total's, whatever the split.
    const end = Math.round(((sum + bytes[k]) / scale) * WIDTH);
    out += GLYPHS[k].repeat(Math.max(0, end - out.length));
    sum += bytes[k];
  }
  return out;
}

function blockIndex(name: string): number | undefined {
  const m = /\.layers\.(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Left-aligned names and bars, right-aligned totals. */
function table(rows: string[][]): string {
  const name = Math.max(...rows.map((r) => r[0].length));
  const total = Math.max(...rows.map((r) => r[2].length));
  return rows.map(([n, b, t, mark]) => `${n.padEnd(name)}  ${b.padEnd(WIDTH)}  ${t.padStart(total)}${mark ? `  ${mark}` : ''}`.trimEnd()).join('\n');
}

export function renderTimeline(model: string, method: string, tl: Timeline): string {
  const peak = tl.events[tl.peakIndex];
  const layers = tl.events.filter((e) => e.phase === 'forward' && blockIndex(e.name) !== undefined).length;
  const rows: string[][] = [];
  let skipped = 0;
  const flush = (): void => {
    if (skipped > 0) rows.push([`  … ${skipped} more blocks`, '', '', '']);
    skipped = 0;
  };
  tl.events.forEach((e, i) => {
    const b = blockIndex(e.name);
    const edge = b === undefined || layers <= 2 * EDGE_BLOCKS + 1 || b < EDGE_BLOCKS || b >= layers - EDGE_BLOCKS;
    if (!edge && i !== tl.peakIndex) {
      skipped++;
      return;
    }
    flush();
    rows.push([e.name, bar(e.bytes, peak.total), formatGB(e.total), i === tl.peakIndex ? '◀ peak' : '']);
  });
  flush();
  const legend = TIMELINE_CATEGORIES.filter((k) => tl.events.some((e) => e.bytes[k] > 0))
    .map((k) => `${GLYPHS[k]} ${CATEGORY_LABELS[k]}`).join('  ');
  const top = TIMELINE_CATEGORIES.filter((k) => peak.bytes[k] > 0).sort((a, b) => peak.bytes[b] - peak.bytes[a]).slice(0, 3)
    .map((k) => `${CATEGORY_LABELS[k].toLowerCase()} ${formatGB(peak.bytes[k])}`).join(', ');
  return [
    `${model} ${method}: one training step's memory (planned)`,
    table(rows),
    legend,
    `peak ${formatGB(peak.total)} at ${peak.name}${peak.module ? ` (${peak.module})` : ''}: ${top}`,
  ].join('\n');
}
