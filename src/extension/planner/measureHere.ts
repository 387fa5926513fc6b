// "Measure here": the engine measures the selected plan's step on this machine, event by event
// (`python -m sltrain.measure --json --timeline --config RUN.json`), with the interpreter and engine the
// launch would use. A setup this machine cannot hold is refused by the engine with the reason.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { parseMeasuredTimeline, type MeasuredTimeline } from '../../core/planner/measuredTimeline';
import { checkEnvironment, pythonCandidates, systemCommandRunner, withPythonPath } from '../../core/runs/environment';
import { engineDirectory, pythonSources } from '../runs/settings';

/** Minutes a measurement may take (two steps of a large model on a CPU are slow). */
const MEASURE_TIMEOUT_MS = 10 * 60_000;

export type Measure = (run: Record<string, unknown>) => Promise<MeasuredTimeline>;

export function measureHere(context: vscode.ExtensionContext): Measure {
  return async (run) => {
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
  };
}
