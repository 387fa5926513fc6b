// Validation of one parsed JSON object into a typed EngineEvent. Pure; never throws.
import { STEP_METRICS, type StepMetricKey } from './stepMetrics';
import type { EndStatus, EngineEvent } from './types';

export type DecodeResult = { kind: 'event'; event: EngineEvent } | { kind: 'invalid' };

type Obj = Record<string, unknown>;

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** A JSON number, or one of the non-finite spellings the line pre-pass turned into strings. */
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v in NON_FINITE) return NON_FINITE[v];
  return undefined;
}

/** A required metric the engine writes as null when non-finite (a diverged loss): null → NaN. */
function metric(v: unknown): number | undefined {
  return v === null ? Number.NaN : num(v);
}

/** Optional numeric field: absent/null → undefined; present with another type → invalid. */
function optNum(o: Obj, key: string): number | undefined | null {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = num(v);
  return n === undefined ? null : n;
}

function isStep(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 0;
}

const END_STATUSES: readonly string[] = ['completed', 'failed', 'stopped'];

/** The step event's optional metrics (all but the loss), client name → engine field. */
const OPTIONAL_STEP_FIELDS = Object.fromEntries(
  STEP_METRICS.filter((m) => m.key !== 'loss').map((m) => [m.key, m.wire]),
) as Record<Exclude<StepMetricKey, 'loss'>, string>;

/** Collects optional numeric fields; returns null when any present one has the wrong type. */
function optionals<K extends string>(o: Obj, map: Record<K, string>): Partial<Record<K, number>> | null {
  const out: Partial<Record<K, number>> = {};
  for (const key of Object.keys(map) as K[]) {
    const v = optNum(o, map[key]);
    if (v === null) return null;
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export function decodeEvent(o: Obj): DecodeResult {
  const invalid: DecodeResult = { kind: 'invalid' };
  const v = num(o.v);
  const time = num(o.time);
  const rank = o.rank === undefined ? 0 : num(o.rank);
  if (typeof o.event !== 'string' || v === undefined || time === undefined || rank === undefined) return invalid;
  const base = { v, time, rank };
  switch (o.event) {
    case 'start': {
      const config = o.config === undefined ? {} : o.config;
      if (typeof config !== 'object' || config === null || Array.isArray(config)) return invalid;
      const ws = optNum(o, 'world_size');
      if (ws === null) return invalid;
      const params = typeof o.params === 'object' && o.params !== null ? (o.params as Obj) : undefined;
      return {
        kind: 'event',
        event: {
          ...base, event: 'start', config: config as Obj,
          ...(typeof o.device === 'string' ? { device: o.device } : {}),
          ...(ws !== undefined ? { worldSize: ws } : {}),
          ...(params ? { params } : {}),
        },
      };
    }
    case 'step': {
      const step = num(o.step);
      const loss = metric(o.loss);
      if (!isStep(step) || loss === undefined) return invalid;
      const rest = optionals(o, OPTIONAL_STEP_FIELDS);
      if (rest === null) return invalid;
      return { kind: 'event', event: { ...base, event: 'step', step, loss, ...rest } };
    }
    case 'eval': {
      const step = num(o.step);
      const loss = metric(o.loss);
      const ppl = optNum(o, 'ppl');
      if (!isStep(step) || loss === undefined || ppl === null) return invalid;
      return { kind: 'event', event: { ...base, event: 'eval', step, loss, ...(ppl !== undefined ? { ppl } : {}) } };
    }
    case 'checkpoint': {
      const step = num(o.step);
      if (!isStep(step) || typeof o.path !== 'string') return invalid;
      return { kind: 'event', event: { ...base, event: 'checkpoint', step, path: o.path } };
    }
    case 'warning':
    case 'error': {
      if (typeof o.message !== 'string') return invalid;
      if (o.code !== undefined && o.code !== null && typeof o.code !== 'string') return invalid;
      const code = typeof o.code === 'string' ? { code: o.code } : {};
      return { kind: 'event', event: { ...base, event: o.event, message: o.message, ...code } };
    }
    case 'tracker': {
      if (typeof o.name !== 'string' || o.name === '') return invalid;
      const link: { url?: string; path?: string; command?: string } = {};
      for (const key of ['url', 'path', 'command'] as const) {
        const v = o[key];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string') return invalid;
        link[key] = v;
      }
      return { kind: 'event', event: { ...base, event: 'tracker', name: o.name, ...link } };
    }
    case 'end': {
      if (typeof o.status !== 'string' || !END_STATUSES.includes(o.status)) return invalid;
      const step = optNum(o, 'step');
      if (step === null) return invalid;
      return {
        kind: 'event',
        event: { ...base, event: 'end', status: o.status as EndStatus, ...(step !== undefined ? { step } : {}) },
      };
    }
    default:
      return { kind: 'event', event: { ...base, event: 'unknown', name: o.event, raw: o } };
  }
}
