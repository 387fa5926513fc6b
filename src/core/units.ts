// Byte and count formatting. GB means 1e9 bytes (the papers' unit); GiB means 2^30 (what nvidia-smi
// and torch report); both are spelled out wherever a number is shown.

export function formatGB(bytes: number, digits = 2): string {
  return `${(bytes / 1e9).toFixed(digits)} GB`;
}

export function formatGiB(bytes: number, digits = 2): string {
  return `${(bytes / 1024 ** 3).toFixed(digits)} GiB`;
}

/** Human-sized count: 1.23M, 6.74B. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** Bytes with a unit chosen for the size (for breakdown items that can be tiny). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return formatGB(bytes);
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** Left-aligned first column, right-aligned others; widths from the content. */
export function alignTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd())
    .join('\n');
}
