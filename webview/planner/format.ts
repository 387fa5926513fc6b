// Display formatting only: the numbers themselves come from the host's planner.
import type { Method } from '../../src/core/planner/types';
import { GB } from '../../src/webviewApi/protocol/planner';

export const METHOD_LABELS: Record<Method, string> = {
  full: 'Full-rank',
  lowrank: 'Low-rank',
  relora: 'ReLoRA',
  galore: 'GaLore',
  sltrain: 'SLTrain',
  apollo: 'APOLLO',
  apollo_mini: 'APOLLO-Mini',
};

const grouped = new Intl.NumberFormat('en-US');

/** 12.34 GB (1 GB = 1e9 B, the papers' and the CLI's unit); small values keep three significant digits. */
export function formatGB(bytes: number): string {
  const gb = bytes / GB;
  return `${gb >= 10 ? gb.toFixed(1) : gb >= 0.1 ? gb.toFixed(2) : gb.toPrecision(3)} GB`;
}

/** Tooltip text with the exact figure, e.g. "12,345,678,901 bytes". */
export function exactBytes(bytes: number): string {
  return `${grouped.format(bytes)} bytes`;
}

/** 58.07 M, 1.34 B parameters. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

export function exactCount(n: number, unit: string): string {
  return `${grouped.format(n)} ${unit}`;
}
