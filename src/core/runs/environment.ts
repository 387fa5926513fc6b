// Can this machine run the engine? Python found, torch importable, CUDA available (else a CPU
// warning). Every problem is one actionable message; `fix` names what the extension can do about it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parsePythonProbe, PYTHON_PROBE, type PythonProbe } from '../pythonProbe';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

export interface CommandRunner {
  run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CommandResult>;
}

export const systemCommandRunner: CommandRunner = {
  run(command, args, options): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, stdout, stderr, spawnError: err.message });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  },
};

export interface PythonSources {
  /** The `sltrain.pythonPath` setting (or --python). */
  setting?: string;
  /** The Python extension's selected interpreter, when that extension is installed. */
  pythonExtension?: string;
  /** The engine folder (holds sltrain/ and, once created, .venv/). */
  engineDir: string;
}

/** Interpreters to try, in order of the user's intent: setting, Python extension, bundled venv, python3. */
export function pythonCandidates(sources: PythonSources): string[] {
  const list = [sources.setting, sources.pythonExtension, join(sources.engineDir, '.venv', 'bin', 'python'), 'python3'];
  return list.filter((p, i): p is string => p !== undefined && p.trim() !== '' && list.indexOf(p) === i);
}

export type EnvIssueCode = 'python-missing' | 'torch-missing' | 'engine-missing' | 'no-cuda';

export interface EnvIssue {
  code: EnvIssueCode;
  severity: 'error' | 'warning';
  message: string;
  /** An automatic fix the UI can offer as a button. */
  fix?: 'create-venv';
}

export interface EnvReport {
  python?: string;
  pythonVersion?: string;
  torchVersion?: string;
  cuda: boolean;
  device?: string;
  /** Trackers (--report-to names) this Python can import; undefined when the engine could not say. */
  trackers?: string[];
  issues: EnvIssue[];
}


/** Probes the first candidate that starts; `engineDir` goes on PYTHONPATH exactly as at launch. */
export async function checkEnvironment(runner: CommandRunner, candidates: string[], engineDir: string): Promise<EnvReport> {
  const env = { ...process.env, PYTHONPATH: withPythonPath(engineDir, process.env.PYTHONPATH) };
  for (const python of candidates) {
    const res = await runner.run(python, ['-c', PYTHON_PROBE], { env, timeoutMs: 60_000 });
    if (res.spawnError !== undefined) continue;
    const out = parsePythonProbe(res.stdout);
    if (out) return reportFrom(python, out);
  }
  return {
    cuda: false,
    issues: [{
      code: 'python-missing', severity: 'error', fix: 'create-venv',
      message: `No working Python found (tried ${candidates.join(', ')}). Install Python 3.10+ and set "sltrain.pythonPath", or create the engine environment.`,
    }],
  };
}

function reportFrom(python: string, out: PythonProbe): EnvReport {
  const issues: EnvIssue[] = [];
  if (out.torch === undefined) {
    issues.push({
      code: 'torch-missing', severity: 'error', fix: 'create-venv',
      message: `PyTorch is not importable with ${python} (${out.torchError ?? 'unknown error'}). Create the engine environment, or run "${python} -m pip install torch".`,
    });
  } else if (out.cuda !== true) {
    issues.push({
      code: 'no-cuda', severity: 'warning',
      message: `CUDA is not available to torch ${out.torch}: the run will use the CPU and be slow. Fine for llama_tiny; for real runs launch on a GPU host.`,
    });
  }
  if (out.engine !== true) {
    issues.push({
      code: 'engine-missing', severity: 'error', fix: 'create-venv',
      message: `The sltrain engine is not importable with ${python} (${out.engineError ?? 'unknown error'}). Create the engine environment (pip install -e engine).`,
    });
  }
  return {
    python, cuda: out.cuda === true, issues,
    ...(out.python ? { pythonVersion: out.python } : {}),
    ...(out.torch ? { torchVersion: out.torch } : {}),
    ...(out.device ? { device: out.device } : {}),
    ...(Array.isArray(out.trackers) ? { trackers: out.trackers.filter((t): t is string => typeof t === 'string') } : {}),
  };
}

export function withPythonPath(engineDir: string, existing: string | undefined): string {
  return existing ? `${engineDir}:${existing}` : engineDir;
}

/** Creates engine/.venv and installs the engine (and so torch) into it; returns the new interpreter. */
export async function createEngineVenv(runner: CommandRunner, engineDir: string, basePython = 'python3'): Promise<{ python: string; log: string; ok: boolean }> {
  const venv = join(engineDir, '.venv');
  const python = join(venv, 'bin', 'python');
  const steps: [string, string[]][] = [
    [basePython, ['-m', 'venv', venv]],
    [python, ['-m', 'pip', 'install', '-e', engineDir]],
  ];
  let log = '';
  for (const [cmd, args] of steps) {
    const res = await runner.run(cmd, args, { cwd: engineDir, timeoutMs: 30 * 60_000 });
    log += `$ ${cmd} ${args.join(' ')}\n${res.stdout}${res.stderr}${res.spawnError ?? ''}\n`;
    if (res.code !== 0) return { python, log, ok: false };
  }
  return { python, log, ok: true };
}
