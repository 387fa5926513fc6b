// `sltrain launch | attach | stop | runs | report`: the same run store and backends as the extension.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs, UsageError, type FlagSpec } from './args';
import { RemoteUnavailableError, type BackendContext } from '../core/runs/backends';
import { backendFor, previewLaunch, targetKind, targetWhere } from '../core/runs/targets';
import { slurmTarget, SLURM_FLAGS, SLURM_USAGE } from './slurmArgs';
import { schedulerLine } from '../core/runs/slurm/state';
import { SubmitRefusedError } from '../core/runs/slurm/backend';
import { checkEnvironment, pythonCandidates, systemCommandRunner } from '../core/runs/environment';
import { escapeControls, escapeLines, terminalJson } from '../core/events/escape';
import { followRun, UnsafeEventsFileError } from '../core/runs/follower';
import { formatEventLine, formatSkippedLine, tableHeader } from '../core/runs/format';
import { findProductDir } from '../core/runs/productDir';
import { EVENTS_FILE, readExitCode } from '../core/runs/runFiles';
import { RunUnreachableError, StopRefusedError } from '../core/runs/runErrors';
import { isFinal, newRunId, RunStore } from '../core/runs/store';
import type { HostSpec, LaunchSpec, RunBackend, RunRecord, RunTarget } from '../core/runs/types';
import type { EngineEvent } from '../core/events/types';
import { itemsOf } from '../core/runSchema';
import { LineSink, whenReady } from './lineSink';

export type RunsCommand = 'launch' | 'attach' | 'stop' | 'runs' | 'report';

/** Trackers a run's events can be replayed into: the engine's --report-to names (the run schema). */
const TRACKERS = itemsOf('report_to');

const USAGE: Record<RunsCommand, string> = {
  launch: 'usage: sltrain launch [--host NAME|user@host[:port]] [--identity FILE] [--nodes H1,H2,...] [--nproc-per-node N] [--python PY] [--detach] [--json] -- ENGINE_ARGS...\n'
    + `${SLURM_USAGE}\n`
    + '  --python: the interpreter with torch (here, or on the host/nodes/compute nodes); default: the engine venv, else python3',
  attach: 'usage: sltrain attach RUN [--json]',
  stop: 'usage: sltrain stop RUN [--grace SECONDS]',
  runs: 'usage: sltrain runs [--json]',
  report: `usage: sltrain report RUN --to ${TRACKERS.join('|')} [--python PY]\n  replays the run's events.jsonl (finished or running) into a tracker, with this machine's Python`,
};

const FLAGS: Record<RunsCommand, Record<string, FlagSpec>> = {
  launch: {
    host: { type: 'string' }, identity: { type: 'string' }, nodes: { type: 'string' }, python: { type: 'string' },
    'nproc-per-node': { type: 'number', integer: true, min: 1, max: 1024 }, detach: { type: 'bool' }, json: { type: 'bool' }, help: { type: 'bool' },
    ...SLURM_FLAGS,
  },
  attach: { json: { type: 'bool' }, help: { type: 'bool' } },
  stop: { grace: { type: 'number', min: 0, max: 86_400 }, help: { type: 'bool' } },
  runs: { json: { type: 'bool' }, help: { type: 'bool' } },
  report: { to: { type: 'string', choices: TRACKERS }, python: { type: 'string' }, help: { type: 'bool' } },
};

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

/**
 * Runs dir: $SLTRAIN_RUNS_DIR, else .sltrain/runs under the current directory (as in a workspace).
 * Engine: $SLTRAIN_ENGINE, else engine/ of the installed package; Python: $SLTRAIN_PYTHON first.
 */
function context(python: string): BackendContext {
  const productDir = process.env.SLTRAIN_HOME ?? findProductDir(__dirname) ?? process.cwd();
  const engineDir = process.env.SLTRAIN_ENGINE ?? join(productDir, 'engine');
  return { runsDir: resolve(process.env.SLTRAIN_RUNS_DIR ?? join('.sltrain', 'runs')), python, engineDir };
}

export async function runRunsCommand(cmd: RunsCommand, argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, FLAGS[cmd]);
    if (args.flags.get('help') === true) {
      out(USAGE[cmd]);
      return 0;
    }
    switch (cmd) {
      case 'launch':
        return await launch(args.flags, args.rest);
      case 'attach':
        return await attach(one(args.positional), args.flags.get('json') === true);
      case 'stop':
        return await stop(one(args.positional), Number(args.flags.get('grace') ?? 30));
      case 'runs':
        return await list(args.flags.get('json') === true);
      case 'report':
        return await report(one(args.positional), args.flags);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`sltrain ${cmd}: ${e.message}\n${USAGE[cmd]}`);
      return 2;
    }
    if (e instanceof RemoteUnavailableError || e instanceof UnsafeEventsFileError || e instanceof SubmitRefusedError) {
      err(`sltrain ${cmd}: ${escapeControls(e.message)}`);
      return 2;
    }
    throw e;
  }
}

function one(positional: string[]): string {
  if (positional.length !== 1) throw new UsageError('give exactly one run (id, id prefix or name; see `sltrain runs`).');
  return positional[0];
}

/** `user@host:port` or a bare name (resolved from ~/.ssh/config by the SSH backend). */
function hostSpec(text: string, identity: string | undefined, python: string | undefined): HostSpec {
  const m = /^(?:([^@]+)@)?([^:@]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`--host must be NAME or user@host[:port]; got "${text}".`);
  return {
    name: text, host: m[2], port: m[3] ? Number(m[3]) : 22, user: m[1] ?? process.env.USER ?? 'root',
    ...(identity ? { identityFile: identity } : {}),
    ...(python ? { python } : {}),
  };
}

function targetFrom(flags: Map<string, string | number | boolean>): RunTarget {
  const slurm = slurmTarget(flags, process.env.USER ?? 'root');
  if (slurm) return slurm;
  const identity = typeof flags.get('identity') === 'string' ? String(flags.get('identity')) : undefined;
  const python = typeof flags.get('python') === 'string' ? String(flags.get('python')) : undefined;
  const nodes = flags.get('nodes');
  if (typeof nodes === 'string') {
    const nproc = Number(flags.get('nproc-per-node') ?? 1);
    return { kind: 'multinode', hosts: nodes.split(',').filter(Boolean).map((h) => hostSpec(h, identity, python)), nprocPerNode: nproc };
  }
  // Several processes on one host run under torchrun's single-node mode (a plan for N GPUs: N processes).
  const nproc = Number(flags.get('nproc-per-node') ?? 1);
  const layout = nproc > 1 ? { nprocPerNode: nproc } : {};
  const host = flags.get('host');
  if (typeof host === 'string') return { kind: 'ssh', host: hostSpec(host, identity, python), ...layout };
  return { kind: 'local', ...layout };
}

function runName(engineArgs: string[]): string {
  const i = engineArgs.indexOf('--model');
  const method = engineArgs.indexOf('--method');
  const parts = [i >= 0 ? engineArgs[i + 1] : 'run', method >= 0 ? engineArgs[method + 1] : undefined];
  return parts.filter(Boolean).join(' ');
}

async function launch(flags: Map<string, string | number | boolean>, engineArgs: string[]): Promise<number> {
  const json = flags.get('json') === true;
  const target = targetFrom(flags);
  let python = 'python3';
  if (targetKind(target).localPython) {
    const found = await localPython(flags);
    if (!found) return 1;
    python = found;
  }
  const ctx = context(python);
  const store = new RunStore(ctx.runsDir);
  const backend = backendFor(target, ctx);
  const spec: LaunchSpec = { id: newRunId(Date.now()), name: runName(engineArgs), target, engineArgs };
  // A batch job's script is shown before it is submitted (and saved in the run folder).
  const preview = previewLaunch(target, spec);
  if (preview && !json) err(`job script (saved as job.sbatch in the run folder):\n${escapeLines(preview)}`);
  // Saved before the start and completed after it: a crash or a dropped link in between leaves a
  // "starting" record that `runs`, `attach` and `stop` reconcile with the host (launches are
  // idempotent by run id, so the host never holds a run this store does not know of).
  await store.save({
    id: spec.id, name: spec.name, target, engineArgs, dir: targetKind(target).runsHere ? store.dirFor(spec.id) : '',
    localDir: store.dirFor(spec.id), createdAt: Date.now(), status: 'starting',
  });
  let record: RunRecord;
  try {
    record = await backend.launch(spec);
  } catch (e) {
    if (e instanceof RunUnreachableError) {
      err(`sltrain launch: ${e.message} Its record ${spec.id} stays "starting" until \`sltrain runs\` can ask the host.`);
      return 1;
    }
    await store.delete(spec.id).catch(() => undefined); // nothing was started: no record of a run that never was
    throw e;
  }
  await store.save(record);
  if (json && flags.get('detach') === true) out(JSON.stringify(record));
  else err(`launched run ${record.id} in ${record.dir}`);
  if (flags.get('detach') === true) return 0;
  return follow(store, record, json, ctx);
}

/** This machine's Python with torch and the engine (--python, $SLTRAIN_PYTHON, the engine venv, ...). */
async function localPython(flags: Map<string, string | number | boolean>): Promise<string | undefined> {
  const setting = typeof flags.get('python') === 'string' ? String(flags.get('python')) : process.env.SLTRAIN_PYTHON;
  const engineDir = context('python3').engineDir;
  const report = await checkEnvironment(systemCommandRunner, pythonCandidates({ setting, engineDir }), engineDir);
  for (const issue of report.issues) err(`${issue.severity}: ${issue.message}`);
  return report.issues.some((i) => i.severity === 'error') ? undefined : report.python;
}

/**
 * Replays a run's events into a tracker here: the local run folder, or the events mirror of a remote
 * run (so a run made without --report-to, or on a host without the package, still gets there).
 */
async function report(ref: string, flags: Map<string, string | number | boolean>): Promise<number> {
  const to = flags.get('to');
  if (typeof to !== 'string') throw new UsageError(`--to is required: one of ${TRACKERS.join(', ')}.`);
  const ctx = context('python3');
  const found = await new RunStore(ctx.runsDir).resolve(ref);
  if (!found) {
    err(`sltrain report: no run "${escapeControls(ref)}" in ${ctx.runsDir} (see \`sltrain runs\`).`);
    return 2;
  }
  const python = await localPython(flags);
  if (!python) return 1;
  const r = spawnSync(python, ['-m', 'sltrain.report', found.localDir, '--to', to], {
    cwd: ctx.engineDir, stdio: 'inherit', env: { ...process.env, PYTHONPATH: ctx.engineDir },
  });
  return r.status ?? 1;
}

async function attach(ref: string, json: boolean): Promise<number> {
  const ctx = context('python3');
  const store = new RunStore(ctx.runsDir);
  const found = await store.resolve(ref);
  if (!found) {
    err(`sltrain attach: no run "${ref}" in ${ctx.runsDir} (see \`sltrain runs\`).`);
    return 2;
  }
  const record = await reconciled(store, backendFor(found.target, ctx), found);
  return follow(store, record, json, ctx);
}

/** Prints events until the run ends; Ctrl-C detaches (the run keeps going). Exit code = the run's. */
async function follow(store: RunStore, record: RunRecord, json: boolean, ctx: BackendContext): Promise<number> {
  const backend = backendFor(record.target, ctx);
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  // Everything printed from here on comes from the run folder: escaped, and written with back-pressure.
  const stdout = new LineSink(process.stdout, abort);
  const stderr = new LineSink(process.stderr, abort);
  const id = escapeControls(record.id);
  let end: EngineEvent | undefined;
  // Printed with the first events, so a run that cannot be followed shows only its refusal.
  let header = !json;
  try {
    await followRun(backend, record, 0, (events) => {
      if (header) stdout.line(tableHeader());
      header = false;
      for (const e of events) {
        if (e.event === 'end') end = e;
        if (json) stdout.line(terminalJson(e));
        else if (e.event === 'warning' || e.event === 'error') stderr.line(formatEventLine(e));
        else stdout.line(formatEventLine(e));
      }
      return whenReady([stdout, stderr]);
    }, abort.signal, (skipped) => stderr.line(formatSkippedLine(skipped, join(record.localDir, EVENTS_FILE))));
  } finally {
    process.removeListener('SIGINT', onSigint);
    stdout.dispose();
    stderr.dispose();
  }
  if (abort.signal.aborted) {
    err(`detached; the run continues. Reattach with: sltrain attach ${id}`);
    return 130;
  }
  const status = await backend.status(record);
  const scheduler = backend.scheduler ? await backend.scheduler(record) : undefined;
  await store.save({ ...record, status, ...(scheduler ? { scheduler } : {}) });
  if (scheduler) err(escapeLines(`${schedulerLine(scheduler)}${scheduler.logTail ? `; last log lines:\n${scheduler.logTail}` : ''}`));
  if (scheduler?.exitCode !== undefined && status === 'failed') return scheduler.exitCode || 1;
  if (!end) err(`run ${id} ended ${status} without an end event; see ${escapeControls(join(record.localDir, 'log'))}`);
  const code = await readExitCode(record.localDir);
  return code ?? (status === 'completed' || status === 'stopped' ? 0 : 1);
}

/** A record saved before its launch returned, completed from its host (unchanged when it cannot tell). */
async function reconciled(store: RunStore, backend: RunBackend, record: RunRecord): Promise<RunRecord> {
  if (record.status !== 'starting' || !backend.reconcile) return record;
  const done = await backend.reconcile(record);
  if (done !== record) await store.save(done);
  return done;
}

async function stop(ref: string, graceS: number): Promise<number> {
  const ctx = context('python3');
  const store = new RunStore(ctx.runsDir);
  const found = await store.resolve(ref);
  if (!found) {
    err(`sltrain stop: no run "${ref}" in ${ctx.runsDir} (see \`sltrain runs\`).`);
    return 2;
  }
  const backend = backendFor(found.target, ctx);
  const record = await reconciled(store, backend, found);
  // "unknown" (host unreachable, or a record that names no process of this run) is no reason to
  // give up: stop itself checks on the host and says what it found.
  const before = await backend.status(record);
  if (isFinal(before)) {
    err(`run ${escapeControls(record.id)} is not running (${before}).`);
    return 0;
  }
  try {
    await backend.stop(record, graceS * 1000);
  } catch (e) {
    if (e instanceof RunUnreachableError) {
      err(`sltrain stop: ${escapeControls(e.message)}`);
      return 1;
    }
    if (e instanceof StopRefusedError) {
      err(`sltrain stop: refused: ${escapeControls(e.message)} Check the run with \`sltrain runs\`; its record may have been edited.`);
      return 2;
    }
    throw e;
  }
  const status = await backend.status(record);
  await store.save({ ...record, status });
  out(`run ${escapeControls(record.id)} ${status}`);
  return 0;
}

async function list(json: boolean): Promise<number> {
  const ctx = context('python3');
  const store = new RunStore(ctx.runsDir);
  const records: RunRecord[] = [];
  for (const stored of await store.list()) {
    let r = stored;
    let status = r.status;
    try {
      const backend = backendFor(r.target, ctx);
      r = await reconciled(store, backend, stored);
      status = await backend.status(r);
      const scheduler = backend.scheduler ? await backend.scheduler(r) : undefined;
      if (scheduler) r = { ...r, scheduler };
      // "unknown" is what could not be learned now (host down): it never replaces what is known.
      if (status === 'unknown' && r.status !== 'running') status = r.status;
      else if ((status !== r.status || scheduler) && status !== 'unknown') await store.save({ ...r, status });
    } catch {
      // A remote run whose backend is unavailable keeps its last known status.
    }
    records.push({ ...r, status });
  }
  if (json) {
    out(JSON.stringify(records));
    return 0;
  }
  if (records.length === 0) out(`no runs in ${ctx.runsDir}`);
  for (const r of records) {
    const job = schedulerLine(r.scheduler);
    out(escapeControls(`${r.id}  ${r.status.padEnd(9)}  ${targetWhere(r.target).padEnd(10)}  ${r.name}${job ? `  [${job}]` : ''}`));
  }
  return 0;
}
