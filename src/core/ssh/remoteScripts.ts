// Shell scripts run on the host over exec channels. Layout of a remote run directory (docs/contracts.md):
// events.jsonl (written by the engine), log (stdout+stderr), pgid, exit_code, stop_requested.
// All paths are absolute (resolved from $HOME once) and every word is quoted.
import { shJoin, shQuote } from './quote';

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
  const inner = `echo $$ > pgid; trap : TERM; ${exports}${shJoin(cmd.argv)} > log 2>&1; `
    + 'echo $? > exit_code.tmp && mv exit_code.tmp exit_code';
  const d = shQuote(dir);
  return [
    `mkdir -p ${d} && cd ${d} || exit 90`,
    // A launch retried after a dropped connection finds its job already running: report that one.
    'if [ -s pgid ] && kill -0 "$(cat pgid)" 2>/dev/null; then cat pgid; exit 0; fi',
    'rm -f pgid exit_code exit_code.tmp stop_requested',
    `nohup setsid bash -c ${shQuote(inner)} </dev/null >/dev/null 2>&1 &`,
    // Wait (≤ 5 s) for the wrapper to record its pid, so the caller can follow and stop it at once.
    'i=0; while [ ! -s pgid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
    'cat pgid',
  ].join('\n');
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
    'elif [ -s pgid ] && kill -0 "$(cat pgid)" 2>/dev/null; then echo alive',
    'elif [ -f stop_requested ]; then echo stopped',
    'else echo vanished; fi',
    `tail -n 5 ${shQuote(file)} 2>/dev/null; true`,
  ].join('\n');
}

/** TERM the whole process group, wait up to `graceMs`, then KILL what is left. */
export function stopScript(dir: string, graceMs: number): string {
  const tenths = Math.max(0, Math.ceil(graceMs / 100));
  return [
    `cd ${shQuote(dir)} 2>/dev/null || exit 0`,
    '[ -s pgid ] || exit 0',
    'touch stop_requested; P="$(cat pgid)"',
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
