// The one run-view panel: shows one run or several overlaid. The page posts `ready` on every load
// (first open, and again after being hidden, since we do not retain its context); each `ready` gets
// a full snapshot, then only appends/meta for the runs on show.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { TRACKER_ACTIONS, type HostToRunView, type RunViewToHost, type TrackerAction } from '../../webviewApi/protocol/runview';
import type { RunWatcher } from '../../core/runs/watcher';
import { escapeControls } from '../../core/events/escape';
import { displayMeta } from '../../core/runs/format';
import { runGpuSamples } from './gpuSamples';
import { runViewHtml } from './html';

export const RUN_VIEW_TYPE = 'sltrain.runView';

function isPageMessage(m: unknown): m is RunViewToHost {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  const id = (m as { runId?: unknown }).runId;
  if (t === 'tracker') {
    const { name, action } = m as { name?: unknown; action?: unknown };
    return typeof id === 'string' && typeof name === 'string' && TRACKER_ACTIONS.includes(action as TrackerAction);
  }
  return t === 'ready' || ((t === 'stop' || t === 'revealRun') && typeof id === 'string');
}

/** The runs the open run view shows, so a view VS Code did not restore after a reload can be reopened. */
const OPEN_RUNS_KEY = 'sltrain.runView.runIds';

export class RunViewPanel {
  private static current: RunViewPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;

  /** Shows the panel with `ids` (replacing what it showed, or adding to it to compare). */
  static async show(context: vscode.ExtensionContext, watcher: RunWatcher, ids: string[], mode: 'replace' | 'add'): Promise<void> {
    await Promise.all(ids.map(async (id) => {
      const record = await watcher.store.get(id);
      if (record) watcher.watch(record);
    }));
    const existing = RunViewPanel.current;
    if (existing) {
      existing.ids = mode === 'add' ? [...new Set([...existing.ids, ...ids])] : ids;
      existing.remember();
      existing.panel.reveal();
      existing.sendSnapshot();
      return;
    }
    const panel = vscode.window.createWebviewPanel(RUN_VIEW_TYPE, 'SLTrain run', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    RunViewPanel.current = new RunViewPanel(panel, context, watcher, ids);
  }

  /**
   * After activation: VS Code restores the view through the serializer when it kept the editor's
   * state, but a reload right after the view opened can lose it. Reopen it then, if a run it showed
   * is still running, so a reload never leaves a live run without its view.
   */
  static async restoreIfMissing(context: vscode.ExtensionContext, watcher: RunWatcher): Promise<void> {
    if (RunViewPanel.current) return;
    const ids = context.workspaceState.get<string[]>(OPEN_RUNS_KEY, []);
    const records = await Promise.all(ids.map((id) => watcher.store.get(id)));
    const live = [];
    for (const r of records) {
      if (r && (await watcher.refreshStatus(r)) === 'running') live.push(r.id);
    }
    if (live.length > 0 && !RunViewPanel.current) await RunViewPanel.show(context, watcher, ids, 'replace');
  }

  /** After a window reload: the serializer hands back the panel and the page's saved state. */
  static async revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, watcher: RunWatcher, savedIds: string[]): Promise<void> {
    // The page's state can be missing when VS Code restores the panel before the page ever saved it.
    const ids = savedIds.length > 0 ? savedIds : context.workspaceState.get<string[]>(OPEN_RUNS_KEY, []);
    for (const id of ids) {
      const record = await watcher.store.get(id);
      if (record) watcher.watch(record);
    }
    RunViewPanel.current?.panel.dispose();
    RunViewPanel.current = new RunViewPanel(panel, context, watcher, ids);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly watcher: RunWatcher,
    private ids: string[],
  ) {
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'media')] };
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'sltrain.png');
    panel.webview.html = this.html();
    this.updateTitle();
    this.remember();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      // Hidden → the page is torn down; it posts `ready` again when shown.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
    const unsubscribe = watcher.onUpdate((u) => {
      if (!this.ready || !this.ids.includes(u.id)) return;
      const model = watcher.model(u.id);
      if (u.delta.steps.step.length > 0 || u.delta.evals.step.length > 0) {
        this.post({ type: 'append', runId: u.id, steps: u.delta.steps, evals: u.delta.evals });
      }
      if (u.delta.metaChanged && model) this.post({ type: 'meta', meta: displayMeta(model.meta) });
    });
    const unsubscribeGpus = runGpuSamples.onSamples((runId, gpus) => {
      if (this.ready && this.ids.includes(runId)) this.post({ type: 'gpu', runId, gpus });
    });
    this.disposables.push({ dispose: unsubscribe }, { dispose: unsubscribeGpus });
  }

  private html(): string {
    const media = (f: string): string => this.panel.webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'media', f)).toString();
    return runViewHtml({
      cspSource: this.panel.webview.cspSource, scriptUri: media('runview.js'), styleUri: media('runview.css'),
      nonce: randomBytes(18).toString('base64'),
    });
  }

  private updateTitle(): void {
    const names = this.ids.map((id) => escapeControls(this.watcher.model(id)?.meta.name ?? id));
    this.panel.title = names.length === 1 ? `Run: ${names[0]}` : `Runs: ${names.length} compared`;
  }

  private sendSnapshot(): void {
    this.updateTitle();
    if (!this.ready) return;
    const runs = this.ids.flatMap((id) => {
      const model = this.watcher.model(id);
      if (!model) return [];
      const snapshot = model.snapshot();
      return [{ ...snapshot, meta: displayMeta(snapshot.meta) }];
    });
    this.post({ type: 'snapshot', runs });
    for (const id of this.ids) {
      const gpus = runGpuSamples.get(id);
      if (gpus.length > 0) this.post({ type: 'gpu', runId: id, gpus });
    }
  }

  private post(message: HostToRunView): void {
    void this.panel.webview.postMessage(message);
  }

  private onMessage(m: unknown): void {
    if (!isPageMessage(m)) return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.sendSnapshot();
        break;
      case 'stop':
        void vscode.commands.executeCommand('sltrain.stopRun', m.runId);
        break;
      case 'revealRun':
        void vscode.commands.executeCommand('sltrain.revealRun', m.runId);
        break;
      case 'tracker':
        void this.onTracker(m.runId, m.name, m.action);
        break;
    }
  }

  /** The link is looked up in the run's own model (not taken from the page), and checked before use. */
  private async onTracker(runId: string, name: string, action: TrackerAction): Promise<void> {
    const meta = this.watcher.model(runId)?.meta;
    const link = meta?.trackers?.find((t) => t.name === name);
    if (!meta || !link) return;
    if (action === 'open' && link.url && /^https?:\/\//i.test(link.url)) {
      await vscode.env.openExternal(vscode.Uri.parse(link.url, true));
    } else if (action === 'reveal' && link.path && meta.local) {
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(link.path));
    } else if (action === 'copy' && link.command) {
      await vscode.env.clipboard.writeText(link.command);
      void vscode.window.showInformationMessage(`Copied: ${escapeControls(link.command)}`);
    }
  }

  private remember(): void {
    void this.context.workspaceState.update(OPEN_RUNS_KEY, this.ids);
  }

  dispose(): void {
    if (RunViewPanel.current === this) {
      RunViewPanel.current = undefined;
      void this.context.workspaceState.update(OPEN_RUNS_KEY, []);
    }
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
