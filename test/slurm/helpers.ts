// What the Slurm tests share: the CLI as a child process, the engine's tiny CPU run, and waiting on a
// run folder's events.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, remotePython } from '../ssh/harness/world';

/** A model small enough that a step takes well under a second on one loaded core. */
export const TINY = ['--model', 'llama_tiny', '--seq-len', '32', '--batch-size', '2', '--device', 'cpu', '--eval-every', '0',
  '--num-threads', '1', '--seed', '1'];

export const PYTHON = remotePython();

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** `sltrain <cmd> ARGS` (the compiled CLI module) in `cwd` with `env`; resolves when it exits. */
export function cli(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliResult> {
  const mod = join(repoRoot(), 'out', 'src', 'cli', 'runs.js');
  const child = spawn(process.execPath, ['-e',
    `require(${JSON.stringify(mod)}).runRunsCommand(process.argv[1], process.argv.slice(2)).then((c) => process.exit(c))`, cmd, ...args],
  { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

export interface Ev {
  event: string;
  step?: number;
  status?: string;
  resume?: boolean;
  message?: string;
}

export function events(dir: string): Ev[] {
  const file = join(dir, 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as Ev];
    } catch {
      return []; // the line being written
    }
  });
}

/** Polls until `cond` holds; the limit is generous (a loaded 2-core machine), never a timing check. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false | Promise<T | undefined | false>, ms = 150_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function lastStep(evs: Ev[]): number {
  return evs.filter((e) => e.event === 'step').reduce((m, e) => Math.max(m, e.step ?? 0), 0);
}
