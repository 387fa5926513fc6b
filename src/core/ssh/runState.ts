// Turns stateScript output into a RunStatus. The engine's own `end` event wins over the exit code
// (it knows "stopped" from "failed"); a stop we requested explains a job killed before it could write one.
import type { RunStatus } from '../runs/types';

export interface RemoteState {
  status: RunStatus;
  exitCode?: number;
}

function lastEndStatus(lines: string[]): RunStatus | undefined {
  for (const line of [...lines].reverse()) {
    try {
      const ev = JSON.parse(line) as { event?: unknown; status?: unknown };
      if (ev.event === 'end' && (ev.status === 'completed' || ev.status === 'failed' || ev.status === 'stopped')) {
        return ev.status;
      }
    } catch {
      // a half-written last line or garbage: look further up
    }
  }
  return undefined;
}

export function parseRemoteState(output: string): RemoteState {
  const [head = '', ...rest] = output.split('\n');
  const end = lastEndStatus(rest.filter((l) => l.trim() !== ''));
  if (head === 'alive') return { status: 'running' };
  if (head === 'stopped') return { status: 'stopped' };
  if (head === 'missing') return { status: 'unknown' };
  if (head === 'vanished') return { status: end ?? 'failed' };
  const m = /^exit (-?\d+)$/.exec(head.trim());
  if (!m) return { status: 'unknown' };
  const exitCode = Number(m[1]);
  return { status: end ?? (exitCode === 0 ? 'completed' : 'failed'), exitCode };
}

export function isFinished(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'stopped';
}
