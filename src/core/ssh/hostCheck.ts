// What a host offers for training: Python, torch, CUDA and its GPUs, reported before the first launch
// so a missing piece gets a clear message instead of a failed run.
import type { SshSession } from './connection';
import { shQuote } from './quote';
import { parsePythonProbe, PYTHON_PROBE } from '../pythonProbe';

export interface GpuInfo {
  name: string;
  memoryBytes: number;
}

export interface HostReport {
  python: string;
  pythonVersion?: string;
  torchVersion?: string;
  cudaAvailable: boolean;
  cudaVersion?: string;
  gpus: GpuInfo[];
  /** One line per missing piece, each saying what to do. Empty when the host is ready. */
  problems: string[];
  /** Worth telling, not blocking (a CPU run still works). */
  warnings: string[];
}


export function parseNvidiaSmiGpus(text: string): GpuInfo[] {
  return text.split('\n').map((l) => l.split(',').map((s) => s.trim())).filter((p) => p.length === 2 && /^\d+$/.test(p[1]))
    .map(([name, mib]) => ({ name, memoryBytes: Number(mib) * 1024 * 1024 }));
}

export function checkScript(python: string): string {
  return [
    `PY=${shQuote(python)}`,
    'if command -v "$PY" >/dev/null 2>&1; then "$PY" -c ' + shQuote(PYTHON_PROBE) + ' 2>&1 | tail -n 1; else echo "NOPYTHON"; fi',
    'echo "---GPUS"',
    'command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits 2>/dev/null; true',
  ].join('\n');
}

export function parseCheck(python: string, output: string): HostReport {
  const [head, gpuPart = ''] = output.split('---GPUS');
  const report: HostReport = { python, cudaAvailable: false, gpus: parseNvidiaSmiGpus(gpuPart), problems: [], warnings: [] };
  if (head.includes('NOPYTHON')) {
    report.problems.push(`Python "${python}" was not found on the host. Install Python 3.10+ or set "python" for this host.`);
    return report;
  }
  const p = parsePythonProbe(head);
  if (!p) {
    report.problems.push(`"${python}" did not run: ${head.trim().slice(0, 300)}`);
    return report;
  }
  report.pythonVersion = p.python;
  if (p.torch) report.torchVersion = p.torch;
  else report.problems.push(`PyTorch is not installed for ${python} (${p.torchError ?? 'import failed'}). Create the engine venv or pip install torch.`);
  report.cudaAvailable = p.cuda === true;
  if (p.cudaVersion) report.cudaVersion = p.cudaVersion;
  if (p.torch && !report.cudaAvailable && report.gpus.length > 0) {
    report.warnings.push('nvidia-smi sees GPUs but torch cannot use CUDA: install a CUDA build of torch matching the driver.');
  }
  return report;
}

export async function checkHost(session: SshSession, python: string): Promise<HostReport> {
  return parseCheck(python, (await session.exec(checkScript(python))).stdout);
}

/** pip's messages when no package index can be reached. */
const OFFLINE = [/Temporary failure in name resolution/, /Network is unreachable/, /Connection refused/,
  /No matching distribution found/, /Could not find a version that satisfies/, /NewConnectionError/, /timed out/i];

export function looksOffline(pipOutput: string): boolean {
  return OFFLINE.some((re) => re.test(pipOutput));
}

/**
 * Creates <workDir>/venv and pip-installs the uploaded engine (with torch) into it. `pipArgs` go to
 * pip verbatim (e.g. an --index-url for a mirror).
 */
export async function createEngineVenv(session: SshSession, basePython: string, venvDir: string, engineCopy: string,
  pipArgs: string[]): Promise<{ ok: boolean; offline: boolean; message: string }> {
  const pip = `${shQuote(venvDir)}/bin/python -m pip`;
  const script = [
    `${shQuote(basePython)} -m venv ${shQuote(venvDir)} || exit 91`,
    `${pip} install --disable-pip-version-check --retries 1 --timeout 10 ${pipArgs.map(shQuote).join(' ')} ${shQuote(engineCopy)} 2>&1 | tail -n 30`,
    'exit ${PIPESTATUS[0]}',
  ].join('\n');
  const r = await session.exec(`bash -c ${shQuote(script)}`);
  if (r.code === 0) return { ok: true, offline: false, message: `Engine installed in ${venvDir}.` };
  if (r.code === 91) return { ok: false, offline: false, message: `"${basePython} -m venv" failed on ${session.where}: install python3-venv.` };
  const offline = looksOffline(r.stdout);
  const message = offline
    ? `${session.where} has no internet access (pip could not reach the package index). Install torch there from a `
      + 'local wheel or a mirror (pip --index-url), or use an existing Python with torch ("python" host setting).'
    : `pip install failed on ${session.where}:\n${r.stdout.trim()}`;
  return { ok: false, offline, message };
}
