// Synthetic run data shaped like the engine's: a decaying noisy loss, warmup + cosine lr.
import { emptyEvalColumns, emptyStepColumns, type EvalColumns, type RunMeta, type RunSnapshot, type StepColumns } from '../../src/webviewApi/protocol/runview';

/** Deterministic white noise in [0, 1) per (step, seed): an integer hash, so appends match snapshots. */
function noise(step: number, seed: number): number {
  let h = Math.imul(step ^ Math.imul(seed * 1000, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

export function stepColumns(from: number, to: number, seed = 1, t0 = 1.7e9): StepColumns {
  const c = emptyStepColumns();
  for (let s = from; s <= to; s++) {
    c.step.push(s);
    c.loss.push(2.2 + 8 * Math.exp(-s / (300 * seed)) + 0.3 / (1 + s / 20_000) + 0.2 * noise(s, seed));
    c.lr.push(s < 100 ? (3e-3 * s) / 100 : 3e-4 + 1.35e-3 * (1 + Math.cos((Math.PI * s) / 200_000)));
    c.gradNorm.push(0.4 + 3 * Math.exp(-s / 500) + 0.1 * noise(s + 3, seed));
    c.tokens.push(s * 8192);
    c.tokensPerS.push((52_000 - 9000 * (seed - 1)) * (0.97 + 0.06 * noise(s + 7, seed)));
    c.memAllocatedBytes.push(4.6e9);
    c.memPeakBytes.push(5.1e9 + 2e8 * Math.min(1, s / 50));
    c.stepTimeS.push(0.31);
    c.time.push(t0 + s * 0.31);
  }
  return c;
}

export function evalColumns(every: number, to: number, seed = 1): EvalColumns {
  const c = emptyEvalColumns();
  for (let s = every; s <= to; s += every) {
    c.step.push(s);
    c.loss.push(2.3 + 8 * Math.exp(-s / (300 * seed)));
  }
  return c;
}

export function snapshot(meta: RunMeta, steps: number, seed = 1): RunSnapshot {
  return { meta, steps: stepColumns(1, steps, seed), evals: evalColumns(Math.max(1, Math.floor(steps / 10)), steps, seed) };
}
