// Several processes on one host: the engine command under torchrun's single-node mode, so a plan for
// N GPUs runs as N data-parallel processes (ranks from torchrun, events from rank 0).

/** The largest process count one host is asked to start (a launch argument is untrusted input). */
export const MAX_PROCESSES_PER_HOST = 1024;

/**
 * `[python, ...rest]` (rest: `-m sltrain.train` or a script) as `python -m torch.distributed.run
 * --standalone --nproc-per-node N ...rest`; unchanged for one process.
 */
export function withProcesses(command: readonly string[], nproc: number): string[] {
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > MAX_PROCESSES_PER_HOST) {
    throw new Error(`processes per host must be a whole number from 1 to ${MAX_PROCESSES_PER_HOST}, got ${nproc}`);
  }
  if (nproc === 1) return [...command];
  const [python, ...rest] = command;
  return [python, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', String(nproc), ...rest];
}

/** Processes a target starts on each of its hosts. */
export function processesPerHost(target: { kind: string; nprocPerNode?: number }): number {
  return target.nprocPerNode ?? 1;
}
