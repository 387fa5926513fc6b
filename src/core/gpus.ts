// GPU models the planner offers. Memory is what nvidia-smi reports (MiB); the CUDA context takes its
// share outside max_memory_allocated, so the allocator's budget is the total minus that reserve.
export interface GpuModel {
  id: string;
  label: string;
  totalMiB: number;
  hopper: boolean;
}

export const CUDA_CONTEXT_BYTES = 512 * 1024 * 1024;

export const GPU_MODELS: readonly GpuModel[] = [
  { id: 'rtx4090', label: 'RTX 4090 (24 GB)', totalMiB: 24564, hopper: false },
  { id: 'a100-40', label: 'A100 40 GB', totalMiB: 40960, hopper: false },
  { id: 'l40s', label: 'L40S / A6000 (48 GB)', totalMiB: 46068, hopper: false },
  { id: 'a100-80', label: 'A100 80 GB', totalMiB: 81920, hopper: false },
  { id: 'h100', label: 'H100 80 GB', totalMiB: 81559, hopper: true },
  { id: 'h200', label: 'H200 141 GB', totalMiB: 143771, hopper: true },
];

/** Bytes the caching allocator can hand out on this GPU. */
export function usableBytes(g: GpuModel): number {
  return g.totalMiB * 1024 * 1024 - CUDA_CONTEXT_BYTES;
}

export function findGpu(id: string): GpuModel | undefined {
  const key = id.toLowerCase();
  return GPU_MODELS.find((g) => g.id === key);
}
