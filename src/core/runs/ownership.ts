// Is the process group a run record names really that run's? run.json is a plain file anyone (or any
// bug) can rewrite, so before a signal goes out the leader is checked on this host: a group leader,
// started at the time recorded at launch, running in (and naming) the run folder.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProcessControl, ProcessIdentity } from './system';
import { signallableGroup } from './system';
import type { RunRecord } from './types';

export type Ownership =
  | { state: 'ours'; leader: ProcessIdentity }
  | { state: 'gone' }
  | { state: 'foreign'; reason: string };

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * `runsDir`: where this machine's run folders live; a local record whose folder is elsewhere (run.json
 * edited to point at another directory) names no process of a run.
 */
export function runOwnership(proc: ProcessControl, record: RunRecord, runsDir?: string): Ownership {
  const { pgid, pid } = record;
  if (runsDir !== undefined && resolve(record.dir) !== resolve(runsDir, record.id)) {
    return { state: 'foreign', reason: `run ${record.id} names the folder ${record.dir}, which is not its folder in ${runsDir}` };
  }
  if (pgid === undefined) return { state: 'foreign', reason: `run ${record.id} has no process group recorded` };
  if (!signallableGroup(pgid)) {
    return { state: 'foreign', reason: `run ${record.id} names process group ${JSON.stringify(pgid)}, which is never a run's (it must be a process id above 1)` };
  }
  if (pid !== undefined && pid !== pgid) {
    return { state: 'foreign', reason: `run ${record.id} names pid ${JSON.stringify(pid)} but process group ${pgid}; a run's engine wrapper leads its own group` };
  }
  if (pgid === proc.ownGroup() || pgid === process.pid) {
    return { state: 'foreign', reason: `run ${record.id} names process group ${pgid}, which is this command's own` };
  }
  const leader = proc.identify(pgid);
  if (!leader) return { state: 'gone' };
  if (leader.pgid !== pgid) return { state: 'foreign', reason: `process ${pgid} does not lead process group ${pgid}` };
  if (record.startTime !== undefined && leader.startTime !== record.startTime) {
    return { state: 'foreign', reason: `process ${pgid} started at a different time than run ${record.id}'s (its pid was reused)` };
  }
  const dir = real(record.dir);
  if (leader.cwd !== undefined && real(leader.cwd) !== dir) {
    return { state: 'foreign', reason: `process ${pgid} runs in ${leader.cwd}, not in the run folder ${record.dir}` };
  }
  if (!leader.cmdline.includes(record.dir) && !leader.cmdline.includes(dir)) {
    return { state: 'foreign', reason: `process ${pgid} is not an engine of the run folder ${record.dir}` };
  }
  return { state: 'ours', leader };
}
