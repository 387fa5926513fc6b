// "Add GPU host": connect (host key consent happens here), upload the engine, and report what the host
// offers; optionally create the engine venv there. Used by the extension command and `sltrain hosts`.
import { posix } from 'node:path';
import type { HostSpec } from '../runs/types';
import type { SshDeps } from './deps';
import { ensureEngine } from './engineUpload';
import { checkHost, createEngineVenv } from './hostCheck';
import type { HostReport } from './hostCheck';
import { choosePython, resolveWorkDir } from './hostSession';
import { withSession } from './runHelpers';

export interface HostSetupResult {
  report: HostReport;
  workDir: string;
  engineCopy: string;
  /** Present when a venv was requested: what happened, including "no internet" on the host. */
  venv?: { ok: boolean; offline: boolean; message: string; python: string };
}

export interface HostSetupOptions {
  /** Create <workDir>/venv with `basePython` and pip-install the engine (and torch) into it. */
  createVenv?: { basePython: string; pipArgs: string[] };
}

export function formatHostReport(host: HostSpec, r: HostReport): string {
  const gpus = r.gpus.length ? r.gpus.map((g) => `${g.name} (${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB)`).join(', ') : 'none found';
  return [
    `${host.name} (${host.user}@${host.host}:${host.port})`,
    `  Python: ${r.python} ${r.pythonVersion ?? '(not working)'}`,
    `  torch:  ${r.torchVersion ?? 'not installed'}`,
    `  CUDA:   ${r.cudaAvailable ? `available${r.cudaVersion ? ` (CUDA ${r.cudaVersion})` : ''}` : 'not available'}`,
    `  GPUs:   ${gpus}`,
    ...r.problems.map((p) => `  ! ${p}`),
    ...r.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}

export async function setupHost(host: HostSpec, deps: SshDeps, opts: HostSetupOptions = {}): Promise<HostSetupResult> {
  return withSession(host, deps, async (s) => {
    const workDir = await resolveWorkDir(s, host.workDir);
    const engineCopy = await ensureEngine(s, deps.engineDir, workDir, deps.logger);
    let venv: HostSetupResult['venv'];
    if (opts.createVenv) {
      const dir = posix.join(workDir, 'venv');
      const r = await createEngineVenv(s, opts.createVenv.basePython, dir, engineCopy, opts.createVenv.pipArgs);
      venv = { ...r, python: posix.join(dir, 'bin', 'python') };
    }
    const python = venv?.ok ? venv.python : await choosePython(s, host, workDir);
    const report = await checkHost(s, python);
    return { report, workDir, engineCopy, ...(venv ? { venv } : {}) };
  });
}
