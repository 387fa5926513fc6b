// Snapshots as the host would send them, computed with the real core planner (the page computes nothing).
import { GPU_MODELS, usableBytes } from '../../src/core/gpus';
import { findPreset } from '../../src/core/modelConfig';
import { defaultPlanOptions, planAll } from '../../src/core/planner/plan';
import type { PlanOptions } from '../../src/core/planner/types';
import type { PlannerSnapshot } from '../../src/webviewApi/protocol/planner';

const GPUS = GPU_MODELS.map((g) => ({ id: g.id, label: g.label, bytes: usableBytes(g), hopper: g.hopper }));

export function snapshotFor(preset: string, overrides: Partial<PlanOptions> = {}): PlannerSnapshot {
  const p = findPreset(preset);
  if (!p) throw new Error(`no preset ${preset}`);
  const options = defaultPlanOptions(p.config, overrides);
  return {
    source: { kind: 'file', uri: 'file:///work/config.json', label: 'config.json' },
    options,
    overrides,
    results: planAll(p.config, options),
    stale: false,
    problems: [],
    gpus: GPUS,
    launch: { state: 'enabled' },
  };
}
