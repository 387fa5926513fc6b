// Snapshots as the host would send them, computed with the real core planner (the page computes nothing).
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { GPU_MODELS, usableBytes } from '../../src/core/gpus';
import { parseMeasuredTimeline, type MeasuredTimeline } from '../../src/core/planner/measuredTimeline';
import { findPreset } from '../../src/core/modelConfig';
import { fitChanges } from '../../src/core/planner/fitChanges';
import { defaultPlanOptions, planAll } from '../../src/core/planner/plan';
import { planTimeline } from '../../src/core/planner/timeline';
import type { PlanOptions } from '../../src/core/planner/types';
import type { PlannerSnapshot } from '../../src/webviewApi/protocol/planner';

/** The engine's own measurement of llama_tiny's step (fp32, micro-batch 2 × 32 tokens) on this machine's CPU. */
export function measuredTinyStep(): MeasuredTimeline {
  const python = join(ROOT, 'engine', '.venv', 'bin', 'python');
  const out = execFileSync(python, ['-m', 'sltrain.measure', '--json', '--timeline', '--model', 'llama_tiny', '--precision', 'fp32',
    '--batch-size', '2', '--seq-len', '32', '--num-threads', '1'], { cwd: join(ROOT, 'engine') }).toString();
  const timeline = parseMeasuredTimeline(JSON.parse(out.trim().split('\n').at(-1) ?? ''));
  if (!timeline) throw new Error('sltrain.measure --timeline printed no timeline');
  return timeline;
}

const ROOT = resolve(__dirname, '../..');
const GPUS = GPU_MODELS.map((g) => ({ id: g.id, label: g.label, bytes: usableBytes(g), hopper: g.hopper }));

export function snapshotFor(preset: string, overrides: Partial<PlanOptions> = {}): PlannerSnapshot {
  const p = findPreset(preset);
  if (!p) throw new Error(`no preset ${preset}`);
  const options = defaultPlanOptions(p.config, overrides);
  const results = planAll(p.config, options);
  const selected = results.find((r) => r.method === options.method)!;
  return {
    source: { kind: 'file', uri: 'file:///work/config.json', label: 'config.json' },
    options,
    overrides,
    results,
    stale: false,
    problems: [],
    gpus: GPUS,
    launch: { state: 'enabled' },
    timeline: planTimeline(p.config, selected.options),
    changes: selected.fits.fits ? [] : fitChanges(p.config, selected.options),
    measured: { state: 'none' },
  };
}
