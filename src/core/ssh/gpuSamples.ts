// nvidia-smi sampling (GPU utilisation and memory) on a host while a run is followed. A host without
// nvidia-smi simply yields no samples.
import type { SshSession } from './connection';
import type { GpuSample } from './deps';

const MIB = 1024 * 1024;

/** Parses `index, utilization.gpu, memory.used, memory.total` CSV lines (nounits: %, MiB). */
export function parseGpuSampleLines(text: string, host: string, time: number): GpuSample[] {
  return text.split('\n').map((l) => l.split(',').map((s) => s.trim()))
    .filter((p) => p.length === 4 && p.every((v) => /^\d+(\.\d+)?$/.test(v)))
    .map(([gpu, util, used, total]) => ({
      host, time, gpu: Number(gpu), utilizationPct: Number(util),
      memoryUsedBytes: Number(used) * MIB, memoryTotalBytes: Number(total) * MIB,
    }));
}

/** Resolves false when the host has no nvidia-smi (nothing to sample there, ever). */
export async function streamGpuSamples(session: SshSession, host: string, intervalMs: number,
  onSample: (s: GpuSample) => void, signal: AbortSignal): Promise<boolean> {
  let pending = '';
  const script = 'command -v nvidia-smi >/dev/null 2>&1 || exit 127; exec nvidia-smi '
    + `--query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits -lms ${Math.round(intervalMs)}`;
  const r = await session.stream(script, (chunk) => {
    pending += chunk.toString('utf8');
    const cut = pending.lastIndexOf('\n');
    if (cut < 0) return;
    const now = Date.now() / 1000;
    for (const s of parseGpuSampleLines(pending.slice(0, cut), host, now)) onSample(s);
    pending = pending.slice(cut + 1);
  }, signal);
  return r.code !== 127;
}
