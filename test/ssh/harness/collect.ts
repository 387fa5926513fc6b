// Collects followed bytes and splits them into JSON events, noting when each line arrived.
export interface Received {
  bytes: Buffer[];
  /** Arrival time (unix seconds) of each complete line, in order. */
  arrivals: number[];
  onBytes(chunk: Buffer): void;
  events(): Array<Record<string, unknown>>;
  all(): Buffer;
}

export function collector(onLine?: (count: number) => void): Received {
  const bytes: Buffer[] = [];
  const arrivals: number[] = [];
  return {
    bytes,
    arrivals,
    onBytes(chunk) {
      bytes.push(chunk);
      const now = Date.now() / 1000;
      for (const b of chunk) {
        if (b === 0x0a) {
          arrivals.push(now);
          onLine?.(arrivals.length);
        }
      }
    },
    events() {
      return Buffer.concat(bytes).toString('utf8').split('\n').filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    all: () => Buffer.concat(bytes),
  };
}

export function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `n=${s.length} median=${(q(0.5) * 1000).toFixed(0)}ms p95=${(q(0.95) * 1000).toFixed(0)}ms max=${(s[s.length - 1] * 1000).toFixed(0)}ms`;
}
