// Shell scripts run on the host over exec channels. Layout of a remote run directory (docs/contracts.md):
// events.jsonl (written by the engine), log (stdout+stderr), pgid, exit_code, stop_requested.
// All paths are absolute (resolved from $HOME once) and every word is quoted.
import { EXIT_BUSY, LOCK_FILE } from '../runs/runFiles';
import { shJoin, shQuote } from './quote';

/** Exit code of stopScript when the folder's process group cannot be verified as the run's. */
export const STOP_REFUSED = 5;

/**
 * Shell functions on the host: `st PID` prints a process's start time (clock ticks since boot from
 * /proc, else `ps -o lstart`), `pg PID` its process group. The same
 * functions record the start time at launch and check it at stop, so the two always compare alike;
 * `cwdof`/`argsof` give a process's working directory (Linux) and command line.
 */
const PROC_FNS = [
  'st() { if [ -r "/proc/$1/stat" ]; then sed \'s/.*) //\' "/proc/$1/stat" | cut -d" " -f20; '
    + 'else ps -o lstart= -p "$1" 2>/dev/null | tr -s " " | sed \'s/^ //\'; fi; }',
  'pg() { if [ -r "/proc/$1/stat" ]; then sed \'s/.*) //\' "/proc/$1/stat" | cut -d" " -f3; '
    + 'else ps -o pgid= -p "$1" 2>/dev/null | tr -d " "; fi; }',
  'cwdof() { readlink "/proc/$1/cwd" 2>/dev/null; }',
  'argsof() { if [ -r "/proc/$1/cmdline" ]; then tr "\\0" " " < "/proc/$1/cmdline"; else ps -o args= -p "$1" 2>/dev/null; fi; }',
  // A number above 1 that is not this shell's own group: the only pgid a run can have.
  'okpg() { case "$1" in ""|*[!0-9]*) return 1;; esac; [ "$1" -gt 1 ] && [ "$1" != "$(pg $$)" ]; }',
  // Is $1 alive, a group leader, and this folder's wrapper (cwd here when readable, folder in its argv)?
  'ours() { okpg "$1" && [ "$(pg "$1")" = "$1" ] || return 1; C="$(cwdof "$1")"; '
    + '[ -z "$C" ] || [ "$C" = "$(pwd -P)" ] || return 1; case "$(argsof "$1")" in *"$RUNDIR"*|*"$(pwd -P)"*) return 0;; esac; return 1; }',
].join('\n');

/** A live engine holds the folder's lock (flock(1), else the pid it recorded is alive). */
const BUSY = `busy() { [ -f ${LOCK_FILE} ] || return 1; if command -v flock >/dev/null 2>&1; then `
  + `! flock -n ${LOCK_FILE} true; else read -r p _ < ${LOCK_FILE} && kill -0 "$p" 2>/dev/null; fi; }`;

export interface RemoteCommand {
  argv: string[];
  env: Record<string, string>;
}

/**
 * Detaches the job into its own session and process group with every fd redirected, so the exec
 * channel closes at once and a dropped connection cannot kill it. The wrapper's `$$` is both the pid
 * to watch and the process-group id to signal. exit_code is renamed into place so readers never see
 * it half written. `trap :` (a handler, not an ignore, so the engine still gets the default SIGTERM)
 * keeps the wrapper alive through a stop until the engine has finished its last step and checkpoint.
 */
export function launchScript(dir: string, cmd: RemoteCommand): string {
  const exports = Object.entries(cmd.env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`Invalid environment variable name: ${k}`);
    return `export ${k}=${shQuote(v)}; `;
  }).join('');
  // The engine's "busy" exit (another engine took the folder meanwhile) leaves no exit_code behind.
  const inner = `echo $$ > pgid; trap : TERM; ${exports}${shJoin(cmd.argv)} >> log 2>&1; `
    + `c=$?; [ $c -eq ${EXIT_BUSY} ] && exit ${EXIT_BUSY}; echo $c > exit_code.tmp && mv exit_code.tmp exit_code`;
  const d = shQuote(dir);
  return [
    `mkdir -p ${d} && cd ${d} || exit 90`,
    `RUNDIR=${d}`, PROC_FNS, BUSY,
    // A launch retried after a dropped connection finds its job already running: report that one.
    'found() { if [ -s pgid ] && ours "$(cat pgid)"; then echo "$(cat pgid) $(st "$(cat pgid)")"; exit 0; fi; }',
    // An engine started some other way holds the folder: touch nothing of it.
    `held() { if busy; then echo "the run folder ${dir.replace(/[^\w./-]/g, '?')} is in use by a running engine ($(head -c 200 ${LOCK_FILE} | tr -cd "[:print:]"))" >&2; exit ${EXIT_BUSY}; fi; }`,
    // Both checks only read, so a live folder gets no write at all; then, under a lock that makes
    // concurrent launches of one run id (a retry racing the first try) take turns, once more.
    // fd 9 is closed for the job so the lock ends with this script.
    'found; held',
    'exec 9>> .launch.lock; command -v flock >/dev/null 2>&1 && flock 9',
    'found; held',
    'rm -f pgid exit_code exit_code.tmp stop_requested',
    `nohup setsid bash -c ${shQuote(inner)} </dev/null >/dev/null 2>&1 9>&- &`,
    // Wait (≤ 5 s) for the wrapper to record its pid, so the caller can follow and stop it at once.
    'i=0; while [ ! -s pgid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
    'P="$(cat pgid)"; echo "$P $(st "$P")"',
  ].join('\n');
}

/** `PGID START` of the folder's wrapper when it is alive and this folder's, else nothing. */
export function identityScript(dir: string): string {
  const d = shQuote(dir);
  return [`cd ${d} 2>/dev/null || exit 0`, `RUNDIR=${d}`, PROC_FNS,
    'if [ -s pgid ] && ours "$(cat pgid)"; then echo "$(cat pgid) $(st "$(cat pgid)")"; fi; true'].join('\n');
}

/**
 * Streams events.jsonl from byte `offset` (0-based count already received; tail's +K is 1-based).
 * -F survives the file not existing yet; --pid ends tail with the job so no tail outlives it.
 */
export function followScript(dir: string, file: string, offset: number): string {
  return `cd ${shQuote(dir)} && exec tail -c +${offset + 1} -F -s 0.1 --pid="$(cat pgid)" ${shQuote(file)} 2>/dev/null`;
}

/** Plain read of whatever tail -F may have missed between its last poll and the job's exit. */
export function catchUpScript(dir: string, file: string, offset: number): string {
  return `cd ${shQuote(dir)} && { [ -f ${shQuote(file)} ] && exec tail -c +${offset + 1} ${shQuote(file)}; true; }`;
}

/** Prints one state line, then the last lines of events.jsonl (for the `end` event). */
export function stateScript(dir: string, file: string): string {
  return [
    `cd ${shQuote(dir)} 2>/dev/null || { echo missing; exit 0; }`,
    'if [ -f exit_code ]; then echo "exit $(cat exit_code)"',
    // Only a number above 1 names a process group (kill -0 -1 would say "alive" for anyone's).
    'elif [ -s pgid ] && case "$(cat pgid)" in ""|*[!0-9]*|0|1) false;; esac && kill -0 "$(cat pgid)" 2>/dev/null; then echo alive',
    'elif [ -f stop_requested ]; then echo stopped',
    'else echo vanished; fi',
    `tail -n 5 ${shQuote(file)} 2>/dev/null; true`,
  ].join('\n');
}

/** What the local record says about the run's leader, checked against the host's folder before a signal. */
export interface ExpectedLeader {
  pid?: number;
  startTime?: string;
}

/**
 * TERM the whole process group, wait up to `graceMs`, then KILL what is left — only after verifying
 * that the folder's pgid is a live group leader started when the launch recorded, running in this
 * folder with the folder on its command line. Anything else exits STOP_REFUSED with the reason on
 * stderr, having signalled nothing.
 */
export function stopScript(dir: string, graceMs: number, expect: ExpectedLeader = {}): string {
  const tenths = Math.max(0, Math.ceil(graceMs / 100));
  const d = shQuote(dir);
  const refuse = (why: string): string => `{ echo ${shQuote(why)} >&2; exit ${STOP_REFUSED}; }`;
  return [
    `cd ${d} 2>/dev/null || exit 0`,
    `RUNDIR=${d}`, PROC_FNS,
    '[ -s pgid ] || exit 0',
    'P="$(head -c 64 pgid)"',
    `okpg "$P" || ${refuse('the run folder names a process group no run can have (it must be a number above 1, not the group of this shell)')}`,
    ...(expect.pid !== undefined
      ? [`[ "$P" = ${shQuote(String(expect.pid))} ] || ${refuse(`the process group in the run folder differs from the recorded pid ${expect.pid}`)}`]
      : []),
    'kill -s 0 -- "-$P" 2>/dev/null || exit 0',
    `ours "$P" || ${refuse('the leader of that process group is not the engine wrapper of this run folder')}`,
    ...(expect.startTime !== undefined
      ? [`[ "$(st "$P")" = ${shQuote(expect.startTime)} ] || ${refuse('the leader of that process group started at another time than recorded at launch (its pid was reused)')}`]
      : []),
    'touch stop_requested',
    'kill -s TERM -- "-$P" 2>/dev/null || exit 0',
    `i=0; while kill -s 0 -- "-$P" 2>/dev/null && [ $i -lt ${tenths} ]; do sleep 0.1; i=$((i+1)); done`,
    'kill -s KILL -- "-$P" 2>/dev/null',
    // Killed processes linger as zombies until reaped; report "gone" only once they are.
    'i=0; while kill -s 0 -- "-$P" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; true',
  ].join('\n');
}

/** Last lines of the job's log, for failure reports. */
export function logTailScript(dir: string, lines: number): string {
  return `tail -n ${lines} ${shQuote(dir)}/log 2>/dev/null; true`;
}
