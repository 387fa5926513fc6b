// Turns stateScript output into the facts decideStatus judges. The engine's own `end` event wins over the
// exit code (it knows "stopped" from "failed"); a stop we requested explains a job killed before it could write one.
import type { RunStatus } from '../runs/types';
import { decideStatus } from '../runs/runModel';
import type { EndStatus } from '../events/types';

export interface RemoteState {
  status: RunStatus;
  exitCode?: number;
}

function lastEndStatus(lines: string[]): EndStatus | undefined {
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
  const m = /^exit (-?\d+)$/.exec(head.trim());
  const exitCode = m ? Number(m[1]) : undefined;
  // Anything else the script never prints: nothing can be said.
  if (!m && !['alive', 'stopped', 'missing', 'vanished'].includes(head)) return { status: 'unknown' };
  const status = decideStatus({
    alive: head === 'alive', launched: head !== 'missing', stopRequested: head === 'stopped',
    ...(head === 'alive' ? {} : { end }), ...(exitCode !== undefined ? { exitCode } : {}),
  });
  return { status, ...(exitCode !== undefined ? { exitCode } : {}) };
}

export function isFinished(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'stopped';
}
