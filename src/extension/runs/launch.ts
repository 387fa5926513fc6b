// `sltrain.launch`: confirm the run spec (model, where to run, steps, data, where runs go), then either
// check this machine's environment (offering to create the engine venv when Python/torch/the engine
// are missing) and launch detached here, or launch over SSH on one host or several (the SSH backend
// checks the host), and open the run view.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { PRESETS } from '../../core/modelConfig';
import { createLocalBackend } from '../../core/runs/backends';
import { backendFor, layoutFor, previewLaunch, targetKind } from '../../core/runs/targets';
import {
  checkEnvironment, createEngineVenv, pythonCandidates, systemCommandRunner, type EnvReport,
} from '../../core/runs/environment';
import {
  engineArgsFor, LaunchArgumentError, parseLaunchOptions, runNameFor, type LaunchOptions,
} from '../../core/runs/launchOptions';
import { describeTarget, remoteRunDirHint } from '../../core/runs/launchTargets';
import { RunUnreachableError } from '../../core/runs/runErrors';
import { newRunId, RunStore } from '../../core/runs/store';
import type { RunBackend, RunTarget } from '../../core/runs/types';
import type { RunWatcher } from '../../core/runs/watcher';
import { sshDepsFor, sshLog } from '../hosts/deps';
import { engineDirectory, pythonSources, runsDirectory } from './settings';
import { RunViewPanel } from './RunViewPanel';
import { pickTarget } from './targetPick';
import { pickTrackers } from './trackerPick';

const CREATE_VENV = 'Create engine environment';
const OPEN_SETTINGS = 'Set Python path';

export async function launchCommand(context: vscode.ExtensionContext, watcher: RunWatcher, output: vscode.OutputChannel, arg: unknown): Promise<void> {
  // The command is disabled in untrusted workspaces; this also covers callers that bypass enablement
  // (the host and interpreter settings it would run are restricted there).
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Launching runs needs a trusted workspace (Workspaces: Manage Workspace Trust).');
    return;
  }
  let options: LaunchOptions;
  try {
    options = parseLaunchOptions(arg);
  } catch (e) {
    if (!(e instanceof LaunchArgumentError)) throw e;
    void vscode.window.showErrorMessage(e.message);
    return;
  }
  const model = options.run.model ?? (await pickModel());
  if (!model) return;
  const picked = await pickTarget(title(2, 'where to run'), (m) => output.appendLine(m));
  if (!picked) return;
  const target = layoutFor(picked, options.gpus);
  if (typeof target === 'string') {
    void vscode.window.showErrorMessage(target);
    return;
  }
  // This machine's Python is checked while the user answers the next steps: the tracker step offers
  // what it imports, and the launch below uses the same report.
  const envCheck = targetKind(target).localPython ? checkLocal(context) : undefined;
  const spec = await confirmSpec({ ...options, run: { ...options.run, model } }, target, runsDirectory(context), envCheck);
  if (!spec) return;

  const runsDir = spec.runsDir;
  const store = new RunStore(runsDir);
  if (store.root !== watcher.store.root) {
    void vscode.window.showWarningMessage(`Runs go to ${runsDir}; the Runs view lists ${watcher.store.root}. Change "sltrain.runsDirectory" to see them there.`);
  }
  const backend = envCheck ? await localBackend(context, runsDir, output, envCheck) : remoteBackend(context, target, runsDir);
  if (!backend) return;
  const id = newRunId(Date.now());
  const where = describeTarget(target);
  const job = previewLaunch(target, { id: '<run id>', name: runNameFor(spec.options), engineArgs: spec.engineArgs });
  if (job) output.appendLine(`job script for ${where} (saved as job.sbatch in the run folder):\n${job}`);
  // Saved before the start, completed after it: a dropped link in between leaves a "starting" record
  // that the Runs view and the CLI reconcile with the host (the host starts a run id at most once).
  await store.save({
    id, name: runNameFor(spec.options), target, engineArgs: spec.engineArgs, dir: targetKind(target).runsHere ? store.dirFor(id) : '',
    localDir: store.dirFor(id), createdAt: Date.now(), status: 'starting',
  });
  try {
    const record = await vscode.window.withProgress(
      // Remote: connect (asking about an unknown host key), upload the engine, check Python/torch, start.
      { location: vscode.ProgressLocation.Notification, title: `SLTrain: starting the run on ${where}…` },
      () => backend.launch({
        id, name: runNameFor(spec.options), target, engineArgs: spec.engineArgs,
        ...(options.predictedPeakBytes !== undefined ? { predictedPeakBytes: options.predictedPeakBytes } : {}),
      }),
    );
    await store.save(record);
    output.appendLine(`launched ${record.id} on ${where} in ${record.dir}: sltrain.train ${record.engineArgs.join(' ')}`);
    watcher.watch(record);
    watcher.fireChange();
    await RunViewPanel.show(context, watcher, [record.id], 'replace');
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    output.appendLine(`launch on ${where} failed: ${message}`);
    // A run that may have started (the link dropped after the start) keeps its record; others leave none.
    if (!(e instanceof RunUnreachableError)) await store.delete(id).catch(() => undefined);
    if (!targetKind(target).remote) {
      void vscode.window.showErrorMessage(`Could not start the engine: ${message}`);
      return;
    }
    const show = await vscode.window.showErrorMessage(`Could not start the run on ${where}: ${message}`, 'Show SSH log');
    if (show) sshLog().show(true);
  }
}

function title(step: number, what: string): string {
  // Five steps; a remote launch skips the fifth (its run directory lives on the host).
  return `Launch SLTrain run (${step}/5): ${what}`;
}

async function checkLocal(context: vscode.ExtensionContext): Promise<EnvReport> {
  return checkEnvironment(systemCommandRunner, pythonCandidates(await pythonSources(context)), engineDirectory(context));
}

/** This machine: the interpreter is checked (and the venv offered) before anything starts. */
async function localBackend(context: vscode.ExtensionContext, runsDir: string, output: vscode.OutputChannel,
  envCheck: Promise<EnvReport>): Promise<RunBackend | undefined> {
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'SLTrain: checking Python and PyTorch…' },
    () => envCheck,
  );
  const python = await resolveIssues(context, report, output);
  if (!python) return undefined;
  output.appendLine(`python: ${python}`);
  return createLocalBackend({ runsDir, python, engineDir: engineDirectory(context) });
}

/** SSH / torchrun: keychain secrets and the host-key dialog of the editor; the host checks its own Python. */
function remoteBackend(context: vscode.ExtensionContext, target: RunTarget, runsDir: string): RunBackend {
  // `python` is the local interpreter and unused here: each host's comes from its settings entry or the host.
  return backendFor(target, { runsDir, python: 'python3', engineDir: engineDirectory(context), remote: sshDepsFor(context) });
}

async function pickModel(): Promise<string | undefined> {
  const items: (vscode.QuickPickItem & { value?: string })[] = [
    ...PRESETS.map((p) => ({ label: p.name, description: p.source, value: p.name })),
    { label: '$(file) Hugging Face config.json…', value: undefined },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: title(1, 'model'), placeHolder: 'Preset or config file' });
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

async function confirmSpec(options: LaunchOptions, target: RunTarget, defaultRunsDir: string,
  envCheck: Promise<EnvReport> | undefined): Promise<ConfirmedSpec | undefined> {
  const stepsText = await vscode.window.showInputBox({
    title: title(3, 'training steps'), value: '1000', prompt: 'Optimizer steps',
    validateInput: (v) => (/^[1-9]\d*$/.test(v.trim()) ? undefined : 'A whole number of steps, at least 1'),
  });
  if (!stepsText) return undefined;
  const data = await pickData(target);
  if (!data) return undefined;
  // The embedded corpus goes with the byte tokenizer; other data usually comes with a tokenizer of its own.
  const tokenizer = data === 'embedded' ? undefined : await pickTokenizer();
  if (data !== 'embedded' && !tokenizer) return undefined;
  const found = envCheck ? (await envCheck).trackers ?? [] : undefined;
  const trackers = await pickTrackers(found, describeTarget(target), options.run.report_to);
  if (!trackers) return undefined;
  // Remote runs keep their record and the event mirror in the default runs folder, listed by the Runs view.
  const runsDir = targetKind(target).runsHere ? await pickRunsDir(defaultRunsDir) : defaultRunsDir;
  if (!runsDir) return undefined;
  const engineArgs = engineArgsFor(options, { steps: Number(stepsText.trim()), data, ...(tokenizer ? { tokenizer } : {}), ...trackers });
  const summary = engineArgs.join(' ');
  const output = remoteRunDirHint(target) ?? join(runsDir, '<run id>');
  // A batch job's script is shown before it is submitted (whole in the output, saved as job.sbatch in
  // the run folder); the dialog keeps its sbatch and srun lines so that its buttons stay on the screen.
  const job = previewLaunch(target, { id: '<run id>', name: runNameFor(options), engineArgs });
  const jobLines = job?.split('\n').filter((l) => /^#\s+sbatch |^srun /.test(l)).join('\n');
  const go = await vscode.window.showInformationMessage(
    `Launch on ${describeTarget(target)}?\n\n${summary}\n\nOutput: ${output}${jobLines ? `\n\nJob script (in full in the SLTrain runs output):\n${jobLines}` : ''}`,
    { modal: true }, 'Launch',
  );
  return go === 'Launch' ? { options, engineArgs, runsDir } : undefined;
}

async function pickRunsDir(defaultRunsDir: string): Promise<string | undefined> {
  const dirPick = await vscode.window.showQuickPick(
    [{ label: defaultRunsDir, description: 'default (sltrain.runsDirectory)', dir: defaultRunsDir }, { label: '$(folder) Choose another folder…', description: '', dir: '' }],
    { title: title(5, 'output directory (the run gets <dir>/<run id>)') },
  );
  if (!dirPick) return undefined;
  if (dirPick.dir) return dirPick.dir;
  const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false });
  return folder?.[0]?.fsPath;
}

async function pickTokenizer(): Promise<string | undefined> {
  const text = await vscode.window.showInputBox({
    title: 'Tokenizer', value: 'byte', prompt: 'byte (the engine\'s byte-level tokenizer) or hf:NAME (a Hugging Face tokenizer, e.g. hf:t5-base)',
    validateInput: (v) => (v.trim() === 'byte' || /^hf:\S+$/.test(v.trim()) ? undefined : 'byte, or hf: followed by a tokenizer name or folder'),
  });
  return text?.trim() || undefined;
}

async function pickData(target: RunTarget): Promise<string | undefined> {
  // The engine opens the data file where it runs: on a host that is a path on the host, not here.
  const local = targetKind(target).runsHere;
  const pick = await vscode.window.showQuickPick([
    { label: 'embedded', description: 'the small text bundled with the engine (smoke tests)', value: 'embedded' },
    local ? { label: '$(file) Local text/JSONL file…', value: 'file' } : { label: '$(file) Text/JSONL file on the host…', value: 'hostFile' },
    { label: '$(cloud) Hugging Face dataset (hf:NAME)…', value: 'hf' },
  ], { title: title(4, 'training data') });
  if (!pick) return undefined;
  if (pick.value === 'embedded') return 'embedded';
  if (pick.value === 'file') return (await vscode.window.showOpenDialog({ canSelectMany: false }))?.[0]?.fsPath;
  if (pick.value === 'hostFile') {
    const path = await vscode.window.showInputBox({ title: 'Data file on the host', prompt: 'Absolute path, e.g. /data/corpus.jsonl',
      validateInput: (v) => (v.trim().startsWith('/') ? undefined : 'An absolute path on the host') });
    return path?.trim() || undefined;
  }
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
