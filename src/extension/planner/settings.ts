// `sltrain.defaults.*` settings as planner overrides. Unset (null) settings leave the planner's own
// defaults (the papers' values and the preset's rank/delta/alpha) in place.
import * as vscode from 'vscode';
import { METHODS, type Method, type Optimizer, type PlanOptions, type Precision } from '../../core/planner/types';
import { choicesOf } from '../../core/runSchema';

export function settingsOverrides(): Partial<PlanOptions> {
  const c = vscode.workspace.getConfiguration('sltrain.defaults');
  const out: Partial<PlanOptions> = {};
  const method = c.get<string | null>('method');
  if (method && (METHODS as readonly string[]).includes(method)) out.method = method as Method;
  const num = (key: 'rank' | 'delta' | 'alpha'): void => {
    const v = c.get<number | null>(key);
    if (typeof v === 'number' && v > 0) out[key] = v;
  };
  num('rank');
  num('delta');
  num('alpha');
  const optimizer = c.get<string | null>('optimizer');
  if (optimizer && choicesOf('optimizer').includes(optimizer)) out.optimizer = optimizer as Optimizer;
  const precision = c.get<string | null>('precision');
  if (precision && choicesOf('precision').includes(precision)) out.precision = precision as Precision;
  const perLayer = c.get<boolean | null>('perLayer');
  if (typeof perLayer === 'boolean') out.perLayer = perLayer;
  return out;
}
