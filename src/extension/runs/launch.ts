// `sltrain.launch`: confirm the run spec (model, steps, data, where runs go), check the environment
// (offering to create the engine venv when Python/torch/the engine are missing), launch detached on
// this machine and open the run view.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { PRESETS } from '../../core/modelConfig';
import { createLocalBackend } from '../../core/runs/backends';
import {
  checkEnvironment, createEngineVenv, pythonCandidates, systemCommandRunner, type EnvReport,
} from '../../core/runs/environment';
import { engineArgsFor, parseLaunchOptions, runNameFor, type LaunchOptions } from '../../core/runs/launchOptions';
import { newRunId, RunStore } from '../../core/runs/store';
import type { RunWatcher } from '../../core/runs/watcher';
import { engineDirectory, pythonSources, runsDirectory } from './settings';
import { RunViewPanel } from './RunViewPanel';

const CREATE_VENV = 'Create engine environment';
const OPEN_SETTINGS = 'Set Python path';

export async function launchCommand(context: vscode.ExtensionContext, watcher: RunWatcher, output: vscode.OutputChannel, arg: unknown): Promise<void> {
  const options = parseLaunchOptions(arg);
  const model = options.model ?? (await pickModel());
  if (!model) return;
  const spec = await confirmSpec({ ...options, model }, runsDirectory(context));
  if (!spec) return;

  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'SLTrain: checking Python and PyTorch…' },
    async () => checkEnvironment(systemCommandRunner, pythonCandidates(await pythonSources(context)), engineDirectory(context)),
  );
  const python = await resolveIssues(context, report, output);
  if (!python) return;

  const runsDir = spec.runsDir;
  const store = new RunStore(runsDir);
  if (store.root !== watcher.store.root) {
    void vscode.window.showWarningMessage(`Runs go to ${runsDir}; the Runs view lists ${watcher.store.root}. Change "sltrain.runsDirectory" to see them there.`);
  }
  const backend = createLocalBackend({ runsDir, python, engineDir: engineDirectory(context) });
  const id = newRunId(Date.now());
  try {
    const record = await backend.launch({
      id, name: runNameFor(spec.options), target: { kind: 'local' }, engineArgs: spec.engineArgs,
      ...(options.predictedPeakBytes !== undefined ? { predictedPeakBytes: options.predictedPeakBytes } : {}),
    });
    await store.save(record);
    output.appendLine(`launched ${record.id}: ${python} -m sltrain.train ${record.engineArgs.join(' ')}`);
    watcher.watch(record);
    watcher.fireChange();
    await RunViewPanel.show(context, watcher, [record.id], 'replace');
  } catch (e) {
    void vscode.window.showErrorMessage(`Could not start the engine: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function pickModel(): Promise<string | undefined> {
  const items: (vscode.QuickPickItem & { value?: string })[] = [
    ...PRESETS.map((p) => ({ label: p.name, description: p.source, value: p.name })),
    { label: '$(file) Hugging Face config.json…', value: undefined },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Launch SLTrain run (1/4): model', placeHolder: 'Preset or config file' });
  if (!pick) return undefined;
  if (pick.value) return pick.value;
  const file = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Model config': ['json'] } });
  return file?.[0]?.fsPath;
}

interface ConfirmedSpec {
  options: LaunchOptions;
  engineArgs: string[];
  runsDir: string;
}

async function confirmSpec(options: LaunchOptions, defaultRunsDir: string): Promise<ConfirmedSpec | undefined> {
  const stepsText = await vscode.window.showInputBox({
    title: 'Launch SLTrain run (2/4): training steps', value: '1000', prompt: 'Optimizer steps',
    validateInput: (v) => (/^[1-9]\d*$/.test(v.trim()) ? undefined : 'A whole number of steps, at least 1'),
  });
  if (!stepsText) return undefined;
  const data = await pickData();
  if (!data) return undefined;
  const dirPick = await vscode.window.showQuickPick(
    [{ label: defaultRunsDir, description: 'default (sltrain.runsDirectory)', dir: defaultRunsDir }, { label: '$(folder) Choose another folder…', description: '', dir: '' }],
    { title: 'Launch SLTrain run (4/4): output directory (the run gets <dir>/<run id>)' },
  );
  if (!dirPick) return undefined;
  let runsDir = dirPick.dir;
  if (!runsDir) {
    const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false });
    if (!folder?.[0]) return undefined;
    runsDir = folder[0].fsPath;
  }
  const engineArgs = engineArgsFor(options, { steps: Number(stepsText.trim()), data });
  const summary = engineArgs.join(' ');
  const go = await vscode.window.showInformationMessage(
    `Launch on this machine?\n\n${summary}\n\nOutput: ${join(runsDir, '<run id>')}`, { modal: true }, 'Launch',
  );
  return go === 'Launch' ? { options, engineArgs, runsDir } : undefined;
}

async function pickData(): Promise<string | undefined> {
  const pick = await vscode.window.showQuickPick([
    { label: 'embedded', description: 'the small text bundled with the engine (smoke tests)', value: 'embedded' },
    { label: '$(file) Local text/JSONL file…', value: 'file' },
    { label: '$(cloud) Hugging Face dataset (hf:NAME)…', value: 'hf' },
  ], { title: 'Launch SLTrain run (3/4): training data' });
  if (!pick) return undefined;
  if (pick.value === 'embedded') return 'embedded';
  if (pick.value === 'file') return (await vscode.window.showOpenDialog({ canSelectMany: false }))?.[0]?.fsPath;
  const name = await vscode.window.showInputBox({ title: 'Hugging Face dataset', prompt: 'e.g. allenai/c4', validateInput: (v) => (v.trim() ? undefined : 'A dataset name') });
  return name ? `hf:${name.trim()}` : undefined;
}

/** Shows each issue; errors offer a fix. Returns the interpreter to use, or undefined to abort. */
async function resolveIssues(context: vscode.ExtensionContext, report: EnvReport, output: vscode.OutputChannel): Promise<string | undefined> {
  const error = report.issues.find((i) => i.severity === 'error');
  if (error) {
    const actions = error.fix === 'create-venv' ? [CREATE_VENV, OPEN_SETTINGS] : [OPEN_SETTINGS];
    const choice = await vscode.window.showErrorMessage(error.message, ...actions);
    if (choice === OPEN_SETTINGS) await vscode.commands.executeCommand('workbench.action.openSettings', 'sltrain.pythonPath');
    if (choice !== CREATE_VENV) return undefined;
    const created = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'SLTrain: creating engine/.venv and installing the engine (PyTorch is large; this can take minutes)…' },
      () => createEngineVenv(systemCommandRunner, engineDirectory(context)),
    );
    output.append(created.log);
    if (!created.ok) {
      output.show(true);
      void vscode.window.showErrorMessage('Creating the engine environment failed; the output channel "SLTrain runs" has the pip log.');
      return undefined;
    }
    const again = await checkEnvironment(systemCommandRunner, [created.python], engineDirectory(context));
    return resolveIssues(context, again, output);
  }
  const warning = report.issues.find((i) => i.severity === 'warning');
  if (warning) {
    const go = await vscode.window.showWarningMessage(warning.message, 'Launch on CPU');
    if (go !== 'Launch on CPU') return undefined;
  }
  return report.python;
}
