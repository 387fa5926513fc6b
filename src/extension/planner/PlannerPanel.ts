// The planner panel's one owner: creates or revives the webview, plans on the extension host with the
// core planner, follows the config file as it is edited and posts whole snapshots to the page.
import * as vscode from 'vscode';
import { GPU_MODELS, usableBytes } from '../../core/gpus';
import { findPreset, PRESETS } from '../../core/modelConfig';
import { fitChanges, type FitChange } from '../../core/planner/fitChanges';
import { defaultPlanOptions, planAll } from '../../core/planner/plan';
import { planTimeline, type Timeline } from '../../core/planner/timeline';
import type { PlanOptions, PlanResult } from '../../core/planner/types';
import { validatePlanOptions } from '../../core/planner/validate';
import {
  isPageToHost,
  measureKey,
  PLANNER_VIEW_TYPE,
  type MeasuredView,
  type HostToPage,
  type PageToHost,
  type PlannerSnapshot,
  type PlannerSource,
  type ProblemView,
} from '../../webviewApi/protocol/planner';
import { isCommandAvailable, refreshCommandAvailability } from '../commandAvailability';
import { chooseSource, loadSource, openDocumentFor } from './configSource';
import { plannerHtml } from './html';
import type { LastPanel, LastPanelStore } from './lastPanel';
import type { Measure } from './measureHere';
import { sanitizeOptions, withPanelLabels } from './optionInput';
import { settingsOverrides } from './settings';

/** Typing in the config re-plans at most this often (ms). */
const EDIT_DEBOUNCE_MS = 250;

const FALLBACK_CONFIG = (findPreset('llama_60m') ?? PRESETS[0]).config;

const GPU_CHOICES = GPU_MODELS.map((g) => ({ id: g.id, label: g.label, bytes: usableBytes(g), hopper: g.hopper }));

export class PlannerPanel {
  private static current: PlannerPanel | undefined;
  /** Runs the engine's measured timeline here (set once by register.ts, which knows the engine and Python). */
  static measure: Measure | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private pageReady = false;
  private editTimer: NodeJS.Timeout | undefined;
  private fileWatcher: vscode.FileSystemWatcher | undefined;
  /** Options the user changed in the panel (or restored ones); the rest follow the config's defaults. */
  private overrides: Partial<PlanOptions>;
  private lastGood: { results: PlanResult[]; options: PlanOptions; timeline?: Timeline; changes: FitChange[] } | undefined;
  private measured: MeasuredView = { state: 'none' };
  /** The options of the latest attempt, valid or not, so the controls show what the user typed. */
  private attempted: PlanOptions | undefined;
  private problems: ProblemView[] = [];

  static createOrShow(extensionUri: vscode.Uri, store: LastPanelStore, source: PlannerSource): void {
    if (PlannerPanel.current) {
      PlannerPanel.current.panel.reveal();
      PlannerPanel.current.setSource(source);
      return;
    }
    const panel = vscode.window.createWebviewPanel(PLANNER_VIEW_TYPE, 'SLTrain plan', vscode.ViewColumn.Beside,
      PlannerPanel.webviewOptions(extensionUri));
    PlannerPanel.current = new PlannerPanel(panel, extensionUri, store, source, {});
  }

  /** After a window reload, with the source and option edits the panel had (see register.ts). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, store: LastPanelStore, last: LastPanel): void {
    panel.webview.options = PlannerPanel.webviewOptions(extensionUri);
    PlannerPanel.current?.dispose();
    PlannerPanel.current = new PlannerPanel(panel, extensionUri, store, last.source, last.overrides);
  }

  private static webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly store: LastPanelStore,
    private source: PlannerSource,
    overrides: Partial<PlanOptions>,
  ) {
    this.overrides = overrides;
    void store.save({ source, overrides });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'sltrain.png');
    panel.webview.html = plannerHtml(panel.webview, extensionUri);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => {
        if (isPageToHost(m)) void this.onMessage(m);
      }),
      // A hidden page is destroyed (no retainContextWhenHidden); it sends `ready` again when shown.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.pageReady = false;
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.source.kind === 'file' && e.document.uri.toString() === this.source.uri) this.scheduleReplan();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('sltrain.defaults')) void this.replan();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.post()),
    );
    this.watchSourceFile();
    void this.replan();
  }

  /** Edits made outside the editor (another tool, git) re-plan too; open documents report through onDidChangeTextDocument. */
  private watchSourceFile(): void {
    this.fileWatcher?.dispose();
    this.fileWatcher = undefined;
    if (this.source.kind !== 'file') return;
    const uri = vscode.Uri.parse(this.source.uri);
    const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), name));
    const onDisk = (): void => {
      if (this.source.kind === 'file' && !openDocumentFor(this.source.uri)) this.scheduleReplan();
    };
    watcher.onDidChange(onDisk);
    watcher.onDidCreate(onDisk);
    watcher.onDidDelete(onDisk);
    this.fileWatcher = watcher;
  }

  private setSource(source: PlannerSource): void {
    this.source = source;
    this.watchSourceFile();
    this.overrides = {};
    this.lastGood = undefined;
    this.attempted = undefined;
    this.panel.title = `SLTrain plan: ${source.label}`;
    void this.store.save({ source, overrides: {} });
    void this.replan();
  }

  private scheduleReplan(): void {
    if (this.editTimer) clearTimeout(this.editTimer);
    this.editTimer = setTimeout(() => void this.replan(), EDIT_DEBOUNCE_MS);
  }

  /** Reads and plans the current source; on any problem keeps the last good results and shows why. */
  private async replan(): Promise<void> {
    const source = this.source;
    const loaded = await loadSource(source);
    if (source !== this.source) return; // superseded while reading
    this.panel.title = `SLTrain plan: ${source.label}`;
    if (!loaded.ok) {
      this.problems = loaded.problems;
    } else {
      const options = defaultPlanOptions(loaded.config, { ...settingsOverrides(), ...this.overrides });
      this.attempted = options;
      const invalid = validatePlanOptions(loaded.config, options);
      this.problems = invalid.map((message) => ({ message: withPanelLabels(message) }));
      if (invalid.length === 0) {
        try {
          const results = planAll(loaded.config, options);
          const selected = results.find((r) => r.method === options.method);
          this.lastGood = {
            results, options,
            ...(selected ? { timeline: planTimeline(loaded.config, selected.options) } : {}),
            changes: selected && !selected.fits.fits ? fitChanges(loaded.config, selected.options) : [],
          };
        } catch (e) {
          this.problems = [{ message: `The planner failed: ${e instanceof Error ? e.message : String(e)}` }];
        }
      }
    }
    this.post();
  }

  private snapshot(): PlannerSnapshot {
    const good = this.lastGood;
    // Before any config has planned, the controls still show options (the planner's defaults for 60M).
    const options = this.attempted ?? defaultPlanOptions(FALLBACK_CONFIG, { ...settingsOverrides(), ...this.overrides });
    return {
      source: this.source,
      options,
      overrides: this.overrides,
      results: good?.results ?? [],
      stale: this.problems.length > 0 && good !== undefined,
      problems: this.problems,
      gpus: GPU_CHOICES,
      launch: this.launchState(),
      ...(good?.timeline ? { timeline: good.timeline } : {}),
      changes: good?.changes ?? [],
      measured: this.currentMeasurement(),
    };
  }

  /** A finished measurement is shown only over the plan it measured. */
  private currentMeasurement(): MeasuredView {
    const m = this.measured;
    if (m.state !== 'done') return m;
    const run = this.selectedRun();
    return run && measureKey(run) === m.forKey ? m : { state: 'none' };
  }

  /** The selected method's engine run file, with the model as the engine opens it. */
  private selectedRun(): Record<string, unknown> | undefined {
    const good = this.lastGood;
    const planned = good?.results.find((r) => r.method === good.options.method);
    if (!planned) return undefined;
    const model = this.source.kind === 'file' ? vscode.Uri.parse(this.source.uri).fsPath : this.source.preset;
    return { ...planned.run, model };
  }

  private async measureHere(): Promise<void> {
    const run = this.selectedRun();
    const measure = PlannerPanel.measure;
    if (!run || !measure || this.measured.state === 'running') return;
    const target = await measure.pickWhere();
    if (!target) return;
    const where = target === 'local' ? 'this machine' : target.name;
    this.measured = { state: 'running', where };
    this.post();
    try {
      this.measured = { state: 'done', where, forKey: measureKey(run), timeline: await measure.run(run, target) };
    } catch (e) {
      this.measured = { state: 'failed', where, message: e instanceof Error ? e.message : String(e) };
    }
    this.post();
  }

  private launchState(): PlannerSnapshot['launch'] {
    if (!isCommandAvailable('sltrain.launch')) return { state: 'hidden' };
    if (!vscode.workspace.isTrusted) return { state: 'disabled', reason: 'Launching is off in an untrusted workspace.' };
    if (!this.lastGood || this.problems.length > 0) return { state: 'disabled', reason: 'Fix the problems above first.' };
    const planned = this.lastGood.results.find((r) => r.method === this.lastGood?.options.method);
    if (planned?.launchProblem) return { state: 'disabled', reason: planned.launchProblem };
    return { state: 'enabled' };
  }

  private post(): void {
    const snapshot = this.snapshot();
    if (!this.pageReady) return;
    const message: HostToPage = { type: 'snapshot', snapshot };
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(m: PageToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.pageReady = true;
        await refreshCommandAvailability();
        this.post();
        return;
      case 'setOptions':
        this.overrides = { ...this.overrides, ...sanitizeOptions(m.options) };
        void this.store.save({ source: this.source, overrides: this.overrides });
        await this.replan();
        return;
      case 'pickConfig': {
        const next = await chooseSource(false);
        if (next) this.setSource(next);
        return;
      }
      case 'revealProblem':
        await this.reveal(m.line, m.column);
        return;
      case 'launch':
        await this.launch();
        return;
      case 'measure':
        await this.measureHere();
        return;
    }
  }

  private async reveal(line: number, column: number): Promise<void> {
    if (this.source.kind !== 'file') return;
    const doc = openDocumentFor(this.source.uri) ?? (await vscode.workspace.openTextDocument(vscode.Uri.parse(this.source.uri)));
    const pos = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(pos, pos) });
  }

  /**
   * Hands the plan's own engine run file to the launch feature: `sltrain.launch({ run, gpus, sharding,
   * predictedPeakBytes })`, so the run trains exactly what was planned (the dialog adds steps and data).
   */
  private async launch(): Promise<void> {
    const good = this.lastGood;
    if (!good || this.launchState().state !== 'enabled') return;
    const model = this.source.kind === 'file' ? vscode.Uri.parse(this.source.uri).fsPath : this.source.preset;
    const planned = good.results.find((r) => r.method === good.options.method);
    if (!planned) return;
    await vscode.commands.executeCommand('sltrain.launch', {
      run: { ...planned.run, model }, gpus: good.options.gpus, sharding: good.options.sharding,
      predictedPeakBytes: planned.peak.bytes,
    });
  }

  dispose(): void {
    if (PlannerPanel.current === this) PlannerPanel.current = undefined;
    if (this.editTimer) clearTimeout(this.editTimer);
    this.fileWatcher?.dispose();
    this.panel.dispose();
    while (this.disposables.length > 0) this.disposables.pop()?.dispose();
  }
}
