// The run features: launch/open/stop/reveal/delete commands, the Runs tree, the status bar, completion
// and failure notifications, and reattaching to runs that kept going while the window was closed.
import * as vscode from 'vscode';
import { backendFor, targetKind } from '../../core/runs/targets';
import { addClusterCommand } from './addCluster';
import { RunStore } from '../../core/runs/store';
import type { RunBackend, RunRecord } from '../../core/runs/types';
import { RunWatcher } from '../../core/runs/watcher';
import { sshDepsFor } from '../hosts/deps';
import { runGpuSamples } from './gpuSamples';
import { launchCommand } from './launch';
import { RunItem, RunsTreeProvider } from './runsTree';
import { RUN_VIEW_TYPE, RunViewPanel } from './RunViewPanel';
import { engineDirectory, runsDirectory } from './settings';
import { RunStatusBar } from './statusBar';
import { notifyOnUpdates } from './notifications';

/** Grace period between SIGTERM (the engine checkpoints) and SIGKILL. */
const STOP_GRACE_MS = 60_000;
/** How long VS Code gets to restore the run view itself after a reload before we reopen it. */
const RESTORE_GRACE_MS = 4000;

export function registerRunFeatures(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('SLTrain runs');
  const store = new RunStore(runsDirectory(context));
  // Status/follow/stop never run the engine, so any interpreter name will do here; launch resolves the real one.
  // Remote runs reconnect with the editor's keychain and host-key dialog (not the CLI's refusals), and
  // their GPU readings are tagged with the run they came from.
  const backendForRun = (r: RunRecord): RunBackend => backendFor(r.target, {
    runsDir: store.root, python: 'python3', engineDir: engineDirectory(context),
    ...(!targetKind(r.target).remote ? {} : { remote: sshDepsFor(context, (s) => runGpuSamples.push(r.id, s)) }),
  });
  const watcher = new RunWatcher(store, backendForRun);
  const tree = new RunsTreeProvider(watcher);
  const view = vscode.window.createTreeView('sltrain.runs', { treeDataProvider: tree, canSelectMany: true });
  const statusBar = new RunStatusBar(watcher);

  const resolveRun = async (arg: unknown, title: string): Promise<RunRecord | undefined> => {
    if (arg instanceof RunItem) return arg.record;
    if (typeof arg === 'string') return store.resolve(arg);
    const runs = await store.list();
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.name || r.id, description: `${r.status} · ${r.id}`, id: r.id })), { title },
    );
    return pick ? store.get(pick.id) : undefined;
  };

  context.subscriptions.push(
    output, tree, view, statusBar, { dispose: () => watcher.dispose() },
    notifyOnUpdates(watcher, (id) => void RunViewPanel.show(context, watcher, [id], 'replace')),
    vscode.commands.registerCommand('sltrain.launch', (arg: unknown) => launchCommand(context, watcher, output, arg)),
    vscode.commands.registerCommand('sltrain.addCluster', () => addClusterCommand(context)),
    vscode.commands.registerCommand('sltrain.openRun', async (arg: unknown, selected?: unknown) => {
      const many = Array.isArray(selected) ? selected.filter((s): s is RunItem => s instanceof RunItem) : [];
      if (many.length > 1) return RunViewPanel.show(context, watcher, many.map((i) => i.record.id), 'replace');
      const record = await resolveRun(arg, 'Open run');
      if (record) await RunViewPanel.show(context, watcher, [record.id], 'replace');
    }),
    vscode.commands.registerCommand('sltrain.compareRun', async (arg: unknown) => {
      const record = await resolveRun(arg, 'Add run to the comparison');
      if (record) await RunViewPanel.show(context, watcher, [record.id], 'add');
    }),
    vscode.commands.registerCommand('sltrain.stopRun', async (arg: unknown) => {
      const record = await resolveRun(arg, 'Stop run');
      if (!record) return;
      const ok = await vscode.window.showWarningMessage(
        `Stop run "${record.name}"? The engine writes a checkpoint first; it is killed if it has not exited after ${STOP_GRACE_MS / 1000} s.`,
        { modal: true }, 'Stop',
      );
      if (ok !== 'Stop') return;
      try {
        const status = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Stopping ${record.name}…` },
          () => watcher.stop(record, STOP_GRACE_MS),
        );
        void vscode.window.showInformationMessage(`Run "${record.name}" ${status}.`);
      } catch (e) {
        void vscode.window.showErrorMessage(`Could not stop "${record.name}": ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
    vscode.commands.registerCommand('sltrain.revealRun', async (arg: unknown) => {
      const record = await resolveRun(arg, 'Reveal run folder');
      if (!record) return;
      const uri = vscode.Uri.file(record.localDir);
      // Inside the workspace the Explorer works everywhere (code-server has no OS file manager).
      if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.commands.executeCommand('revealFileInOS', uri);
    }),
    vscode.commands.registerCommand('sltrain.deleteRun', async (arg: unknown) => {
      const record = await resolveRun(arg, 'Delete run');
      if (!record) return;
      if ((await watcher.refreshStatus(record)) === 'running') {
        void vscode.window.showWarningMessage(`Run "${record.name}" is still running: stop it first.`);
        return;
      }
      const ok = await vscode.window.showWarningMessage(
        `Delete run "${record.name}" and its folder ${record.localDir} (checkpoints included)?`, { modal: true }, 'Delete',
      );
      if (ok === 'Delete') await watcher.delete(record.id);
    }),
    vscode.window.registerWebviewPanelSerializer(RUN_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const ids = (state as { runIds?: unknown } | undefined)?.runIds;
        await RunViewPanel.revive(panel, context, watcher, Array.isArray(ids) ? ids.filter((i): i is string => typeof i === 'string') : []);
      },
    }),
  );

  // Runs launched from the CLI (or another window) appear without a manual refresh.
  const fsWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(store.root), '*/run.json'));
  context.subscriptions.push(fsWatcher, fsWatcher.onDidCreate(() => void watcher.reattach()), fsWatcher.onDidDelete(() => watcher.fireChange()));

  for (const key of ['sltrain.launchAvailable', 'sltrain.openRunAvailable', 'sltrain.stopRunAvailable']) {
    void vscode.commands.executeCommand('setContext', key, true);
  }
  void watcher.reattach().then(
    (runs) => {
      output.appendLine(`reattached: ${runs.filter((r) => r.status === 'running').map((r) => r.id).join(', ') || 'no running runs'}`);
      // Give VS Code's own restore (the serializer above) the first chance.
      const timer = setTimeout(() => void RunViewPanel.restoreIfMissing(context, watcher), RESTORE_GRACE_MS);
      context.subscriptions.push({ dispose: () => clearTimeout(timer) });
    },
    (e: unknown) => output.appendLine(`reattach failed: ${String(e)}`),
  );
}
