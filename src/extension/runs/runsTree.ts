// The Runs view: every run in the store, newest first, with its status and last step.
import * as vscode from 'vscode';
import type { RunWatcher } from '../../core/runs/watcher';
import type { RunRecord, RunStatus } from '../../core/runs/types';
import { targetKind, targetWhere } from '../../core/runs/targets';
import { schedulerLine } from '../../core/runs/slurm/state';

const ICONS: Record<RunStatus, [string, string | undefined]> = {
  starting: ['loading~spin', undefined],
  queued: ['watch', 'charts.purple'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'testing.iconPassed'],
  failed: ['error', 'errorForeground'],
  stopped: ['debug-stop', 'charts.yellow'],
  unknown: ['question', undefined],
};

export class RunItem extends vscode.TreeItem {
  constructor(readonly record: RunRecord, lastStep: number | undefined) {
    super(record.name || record.id, vscode.TreeItemCollapsibleState.None);
    const where = targetKind(record.target).runsHere ? '' : ` · ${targetWhere(record.target)}`;
    const job = schedulerLine(record.scheduler);
    this.description = `${record.status}${lastStep !== undefined && lastStep >= 0 ? ` · step ${lastStep}` : ''}${where}`
      + `${job && record.status !== 'running' ? ` · ${job}` : ''}`;
    this.tooltip = `${record.id}\n${record.dir}\n${job ? `${job}\n` : ''}${record.scheduler?.logTail ? `${record.scheduler.logTail}\n` : ''}${record.engineArgs.join(' ')}`;
    const [icon, color] = ICONS[record.status];
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    // package.json menus match `run.running`, `run.completed`, ...
    this.contextValue = `run.${record.status}`;
    this.id = record.id;
    this.command = { command: 'sltrain.openRun', title: 'Open run', arguments: [this] };
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly unsubscribe: (() => void)[];
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly watcher: RunWatcher) {
    this.unsubscribe = [
      watcher.onChange(() => this.refresh()),
      // Step counts move often: refresh the labels at most once a second.
      watcher.onUpdate(() => {
        if (!this.refreshTimer) this.refreshTimer = setTimeout(() => this.refresh(), 1000);
      }),
    ];
  }

  refresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.changed.fire();
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  async getChildren(item?: RunItem): Promise<RunItem[]> {
    if (item) return [];
    const records = await this.watcher.store.list();
    return records.map((r) => {
      const model = this.watcher.model(r.id);
      const status = model && model.meta.status !== 'starting' && model.meta.status !== 'unknown' ? model.meta.status : r.status;
      return new RunItem({ ...r, status }, model?.latestStep);
    });
  }

  dispose(): void {
    for (const u of this.unsubscribe) u();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.changed.dispose();
  }
}
