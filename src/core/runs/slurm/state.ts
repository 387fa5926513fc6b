// Reads stateScript's output: the job as squeue, scontrol and sacct see it (whichever the cluster has;
// test clusters often have no accounting), and the run folder's exit code, stop marker, last events
// and log tail. The facts go to decideStatus; nothing here decides a status.
import type { EndStatus } from '../../events/types';
import type { RunFacts } from '../runModel';
import type { SchedulerInfo } from '../types';
import { SECTIONS } from './scripts';

export interface JobState {
  info: SchedulerInfo;
  facts: RunFacts;
}

function sections(output: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    if ((SECTIONS as readonly string[]).includes(line.trim())) {
      current = line.trim();
      out.set(current, []);
    } else if (current) {
      out.get(current)?.push(line);
    }
  }
  return out;
}

const words = (lines: string[] | undefined): string[] => (lines ?? []).filter((l) => l.trim() !== '');
const known = (v: string | undefined): string | undefined =>
  v && !['N/A', 'Unknown', 'None', '(null)', ''].includes(v) ? v : undefined;

/** `JobState=PENDING Reason=JobHeldUser …` (scontrol -o); only the keys we read. */
function scontrolFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['JobState', 'Reason', 'StartTime', 'NodeList', 'ExitCode', 'Restarts', 'Requeue']) {
    const m = new RegExp(`(?:^| )${key}=(\\S*)`).exec(line);
    if (m) out[key] = m[1];
  }
  return out;
}

function lastEnd(lines: string[]): EndStatus | undefined {
  for (const line of [...lines].reverse()) {
    try {
      const ev = JSON.parse(line) as { event?: unknown; status?: unknown };
      if (ev.event === 'end' && (ev.status === 'completed' || ev.status === 'failed' || ev.status === 'stopped')) return ev.status;
      if (ev.event === 'start') return undefined; // a requeued job started again after that end
    } catch {
      // a half-written last line: look further up
    }
  }
  return undefined;
}

/** `EXIT:SIGNAL` as Slurm prints it: the exit code, or 128+signal for a job killed by one. */
function exitOf(text: string | undefined): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  if (!m) return undefined;
  return Number(m[2]) > 0 ? 128 + Number(m[2]) : Number(m[1]);
}

export function parseJobState(jobId: string, output: string, requeue: boolean): JobState {
  const s = sections(output);
  const info: SchedulerInfo = { jobId };
  const sq = words(s.get('@squeue'))[0]?.split('|');
  if (sq && sq.length >= 4) {
    info.state = sq[0].trim();
    const reason = known(sq[1].trim());
    if (reason) info.reason = reason;
    if (info.state === 'PENDING' && known(sq[2].trim())) info.expectedStart = sq[2].trim();
    if (known(sq[3].trim())) info.nodes = sq[3].trim();
  }
  const sc = words(s.get('@scontrol')).find((l) => l.includes('JobState='));
  if (sc) {
    const f = scontrolFields(sc);
    info.state ??= f.JobState;
    if (!info.reason && known(f.Reason)) info.reason = f.Reason;
    if (info.state === 'PENDING' && !info.expectedStart && known(f.StartTime)) info.expectedStart = f.StartTime;
    if (!info.nodes && known(f.NodeList)) info.nodes = f.NodeList;
    const code = exitOf(f.ExitCode);
    if (code !== undefined) info.exitCode = code;
    if (f.Restarts && /^\d+$/.test(f.Restarts)) info.restarts = Number(f.Restarts);
  }
  // sacct without accounting prints a notice instead of rows: only `STATE|X:Y|NODES` rows count.
  const sa = words(s.get('@sacct')).map((l) => l.split('|')).find((r) => r.length === 3 && /^\d+:\d+$/.test(r[1]));
  if (sa) {
    info.state ??= sa[0].split(' ')[0];
    info.exitCode ??= exitOf(sa[1]);
    if (!info.nodes && known(sa[2])) info.nodes = sa[2];
  }
  const files = words(s.get('@files'));
  const exitLine = files.find((l) => l.startsWith('exit '));
  const folderExit = exitLine ? Number.parseInt(exitLine.slice(5), 10) : undefined;
  const end = lastEnd(words(s.get('@events')));
  // A finished job's exit code is the engine's own (torchrun reports every failure to Slurm as 1).
  if (folderExit !== undefined && Number.isFinite(folderExit) && !['RUNNING', 'PENDING', 'COMPLETING'].includes(info.state ?? '')) {
    info.exitCode = folderExit;
  }
  const facts: RunFacts = {
    alive: false,
    // A job the scheduler does not (or no longer) know leaves only the folder to judge by: without an
    // exit code or end event there, nothing can be said ("unknown", never a guessed "failed").
    launched: false,
    stopRequested: files.includes('stop'),
    ...(end ? { end } : {}),
    ...(folderExit !== undefined && Number.isFinite(folderExit) ? { exitCode: folderExit } : info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    ...(info.state ? { scheduler: { state: info.state, requeue } } : {}),
  };
  const log = words(s.get('@log')).join('\n');
  if (log) info.logTail = log;
  return { info, facts };
}

/** One line for lists and the status bar: `PENDING (Resources), expected start …`, `RUNNING on n[1-4]`. */
export function schedulerLine(info: SchedulerInfo | undefined): string | undefined {
  if (!info?.state) return info ? `job ${info.jobId}` : undefined;
  const parts = [`job ${info.jobId} ${info.state}`];
  if (info.reason && info.state !== 'RUNNING') parts.push(`(${info.reason})`);
  if (info.expectedStart) parts.push(`expected start ${info.expectedStart}`);
  if (info.nodes && info.state !== 'PENDING') parts.push(`on ${info.nodes}`);
  if (info.exitCode !== undefined && !['RUNNING', 'PENDING'].includes(info.state)) parts.push(`exit code ${info.exitCode}`);
  if (info.restarts) parts.push(`requeued ${info.restarts}×`);
  return parts.join(' ');
}
