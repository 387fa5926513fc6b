// The newest nvidia-smi reading per GPU of each followed remote run, for the run view. The SSH
// backend samples while it follows a run; readings are kept only as the latest per (host, GPU).
import type { GpuSample } from '../../core/ssh/deps';

type Listener = (runId: string, latest: GpuSample[]) => void;

export class GpuSampleHub {
  private readonly latest = new Map<string, Map<string, GpuSample>>();
  private readonly listeners = new Set<Listener>();

  push(runId: string, sample: GpuSample): void {
    let perGpu = this.latest.get(runId);
    if (!perGpu) this.latest.set(runId, (perGpu = new Map()));
    perGpu.set(`${sample.host}\0${sample.gpu}`, sample);
    const list = this.get(runId);
    for (const l of this.listeners) l(runId, list);
  }

  /** Sorted by host, then GPU index; empty when the run's hosts have no nvidia-smi. */
  get(runId: string): GpuSample[] {
    return [...(this.latest.get(runId)?.values() ?? [])]
      .sort((a, b) => a.host.localeCompare(b.host) || a.gpu - b.gpu);
  }

  onSamples(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** One hub per extension host: the watcher's backends push into it and the run view reads from it. */
export const runGpuSamples = new GpuSampleHub();
