// The planner's methods by name. Adding a method: one module here, its name in the Method type, and the
// engine's module of the same name (the parity test compares the two).
import type { Method } from '../types';
import { apollo, apolloMini } from './apollo';
import { full } from './full';
import { galore } from './galore';
import { lowrank } from './lowrank';
import { relora } from './relora';
import { sltrain } from './sltrain';
import type { PlannerMethod } from './types';

export const PLANNER_METHODS: Readonly<Record<Method, PlannerMethod>> = {
  full, lowrank, relora, galore, sltrain, apollo, apollo_mini: apolloMini,
};

export function plannerMethod(name: Method): PlannerMethod {
  const m = PLANNER_METHODS[name];
  if (!m) throw new Error(`unknown method "${name}"; use one of ${Object.keys(PLANNER_METHODS).join(', ')}`);
  return m;
}
