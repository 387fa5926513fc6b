// "Measure here": the engine measures the selected plan's step event by event (`python -m
// sltrain.measure --json --timeline --config RUN.json`) on this machine, with the interpreter and engine
// the launch would use, or on a GPU host from `sltrain.hosts` over SSH. A setup the machine cannot
// hold is refused by the engine with the reason.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { parseMeasuredTimeline, type MeasuredTimeline } from '../../core/planner/measuredTimeline';
import { checkEnvironment, pythonCandidates, systemCommandRunner, withPythonPath } from '../../core/runs/environment';
import { hostsFromSettings } from '../../core/runs/launchTargets';
import type { HostSpec } from '../../core/runs/types';
import { measureOnHost } from '../../core/ssh/remoteMeasure';
import { sshDepsFor } from '../hosts/deps';
import { engineDirectory, pythonSources } from '../runs/settings';

/** Minutes a measurement may take (two steps of a large model on a CPU are slow). */
const MEASURE_TIMEOUT_MS = 10 * 60_000;

export interface Measure {
  /** Where to measure: this machine, or a host the user picks when `sltrain.hosts` has any (undefined: cancelled). */
  pickWhere(): Promise<HostSpec | 'local' | undefined>;
  run(run: Record<string, unknown>, where: HostSpec | 'local'): Promise<MeasuredTimeline>;
}

export function measureHere(context: vscode.ExtensionContext): Measure {
  return {
    async pickWhere() {
      const hosts = hostsFromSettings(vscode.workspace.getConfiguration('sltrain').get<unknown>('hosts'), userInfo().username, homedir()).hosts;
      if (hosts.length === 0) return 'local';
      const items = [{ label: '$(vm) This machine', where: 'local' as const },
        ...hosts.map((h) => ({ label: `$(remote) ${h.name}`, description: `${h.user}@${h.host}`, where: h }))];
      return (await vscode.window.showQuickPick(items, { title: 'Measure the planned step on…' }))?.where;
    },
    async run(run, where) {
      if (where === 'local') return measureLocally(context, run);
      const timeline = parseMeasuredTimeline(await measureOnHost(where, sshDepsFor(context), run));
      if (!timeline) throw new Error(`${where.name}: the engine printed no timeline (an engine from before --timeline?)`);
      return timeline;
    },
  };
}

async function measureLocally(context: vscode.ExtensionContext, run: Record<string, unknown>): Promise<MeasuredTimeline> {
  const engineDir = engineDirectory(context);
  const env = await checkEnvironment(systemCommandRunner, pythonCandidates(await pythonSources(context)), engineDir);
  const error = env.issues.find((i) => i.severity === 'error');
  if (error || !env.python) throw new Error(error?.message ?? 'No Python with torch and the engine found.');
  const dir = await mkdtemp(join(tmpdir(), 'sltrain-measure-'));
  try {
    const file = join(dir, 'run.json');
    await writeFile(file, JSON.stringify(run));
    const res = await systemCommandRunner.run(env.python, ['-m', 'sltrain.measure', '--json', '--timeline', '--config', file], {
      cwd: engineDir, timeoutMs: MEASURE_TIMEOUT_MS,
      env: { ...process.env, PYTHONPATH: withPythonPath(engineDir, process.env.PYTHONPATH) },
    });
    if (res.code !== 0) {
      const why = res.stderr.trim().split('\n').filter(Boolean).at(-1) ?? res.spawnError ?? `exit ${res.code}`;
      throw new Error(why.replace(/^error: /, ''));
    }
    const line = res.stdout.trim().split('\n').at(-1) ?? '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    const timeline = parseMeasuredTimeline(parsed);
    if (!timeline) throw new Error('the engine printed no timeline (an engine from before --timeline?)');
    return timeline;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
