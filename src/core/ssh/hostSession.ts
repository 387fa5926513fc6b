// Per-host preparation shared by the single-host and multi-node backends: resolve the work directory,
// make sure the engine copy is there, pick and check the Python, then start a detached job.
import { posix } from 'node:path';
import { EXIT_BUSY } from '../runs/runFiles';
import type { HostSpec } from '../runs/types';
import type { SshSession } from './connection';
import type { SshDeps } from './deps';
import { ensureEngine } from './engineUpload';
import { SshError } from './errors';
import { checkHost } from './hostCheck';
import type { HostReport } from './hostCheck';
import { shQuote } from './quote';
import { launchScript } from './remoteScripts';
import type { RemoteCommand } from './remoteScripts';

export interface PreparedHost {
  workDir: string;
  engineCopy: string;
  python: string;
  report: HostReport;
}

/** `~`-relative work directories become absolute once, so later paths need no shell expansion. */
export async function resolveWorkDir(session: SshSession, workDir: string | undefined): Promise<string> {
  const wd = workDir ?? '~/.sltrain';
  if (wd !== '~' && !wd.startsWith('~/')) return wd;
  const home = (await session.exec('printf "%s" "$HOME"')).stdout;
  if (!home.startsWith('/')) throw new SshError('remote', `Cannot find the home directory on ${session.where}.`);
  return wd === '~' ? home : posix.join(home, wd.slice(2));
}

/** The engine venv this product creates (<workDir>/venv) when present, else python3 on PATH. */
export async function choosePython(session: SshSession, host: HostSpec, workDir: string): Promise<string> {
  if (host.python) return host.python;
  const venv = posix.join(workDir, 'venv', 'bin', 'python');
  const r = await session.exec(`test -x ${shQuote(venv)} && echo venv; true`);
  return r.stdout.trim() === 'venv' ? venv : 'python3';
}

export async function prepareHost(session: SshSession, host: HostSpec, deps: SshDeps,
  reports: Map<string, HostReport>): Promise<PreparedHost> {
  const workDir = await resolveWorkDir(session, host.workDir);
  const engineCopy = await ensureEngine(session, deps.engineDir, workDir, deps.logger);
  const python = await choosePython(session, host, workDir);
  const key = `${session.where} ${python}`;
  let report = reports.get(key);
  if (!report) {
    report = await checkHost(session, python);
    const gpus = report.gpus.map((g) => `${g.name} ${(g.memoryBytes / 2 ** 30).toFixed(0)} GiB`).join(', ') || 'no GPU';
    deps.logger.info(`${host.name}: Python ${report.pythonVersion ?? '?'}, torch ${report.torchVersion ?? 'missing'}, `
      + `CUDA ${report.cudaAvailable ? report.cudaVersion ?? 'yes' : 'unavailable'}, ${gpus}`);
    for (const w of report.warnings) deps.logger.warn(`${host.name}: ${w}`);
    if (report.problems.length > 0) throw new SshError('remote', `${host.name} is not ready: ${report.problems.join(' ')}`);
    reports.set(key, report);
  }
  return { workDir, engineCopy, python, report };
}

export interface StartedJob {
  /** The wrapper's pid, which is the job's process-group id. */
  pid: number;
  /** Its start time on the host, as the stop script will check it. */
  startTime?: string;
}

/** `PID [START]`, the last line launchScript and identityScript print. */
export function parseJobLine(stdout: string): StartedJob | undefined {
  const m = /^(\d+)(?: (.+))?$/.exec(stdout.trim().split('\n').pop() ?? '');
  const pid = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(pid) || pid <= 1) return undefined;
  return { pid, ...(m[2] ? { startTime: m[2].trim() } : {}) };
}

/** Starts the detached job (or finds the one this run id already started); returns its pid and start time. */
export async function startDetached(session: SshSession, dir: string, cmd: RemoteCommand): Promise<StartedJob> {
  const r = await session.exec(launchScript(dir, cmd));
  // No exit status: the connection went while the script ran, so the job may or may not be running.
  if (r.code === undefined) throw new SshError('dropped', `Connection to ${session.where} dropped while starting the run.`);
  if (r.code === 90) throw new SshError('remote', `Cannot create the run directory ${dir} on ${session.where}: ${r.stderr.trim()}`);
  if (r.code === EXIT_BUSY) throw new SshError('remote', `${r.stderr.trim()} on ${session.where}; nothing was started.`);
  const job = parseJobLine(r.stdout);
  if (!job) throw new SshError('remote', `The run did not start on ${session.where}: ${r.stderr.trim() || 'no pid recorded'}`);
  return job;
}

export function engineEnv(deps: SshDeps, engineCopy: string, runName: string): Record<string, string> {
  // PYTHONUNBUFFERED: otherwise the log arrives in bursts. The run name travels as data, never as code.
  return { ...deps.runEnv, PYTHONPATH: engineCopy, PYTHONUNBUFFERED: '1', SLTRAIN_RUN_NAME: runName };
}

export function checkRunId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
    throw new Error(`Invalid run id "${id}": use letters, digits, ".", "_" and "-".`);
  }
}
