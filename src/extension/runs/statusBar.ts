// A status-bar item for the active run (the newest one still running): step, loss, ETA; else a queued
// batch job with the scheduler's state and reason.
import * as vscode from 'vscode';
import type { RunWatcher } from '../../core/runs/watcher';
import type { RunModel } from '../../core/runs/runModel';
import { formatDuration, formatNumber } from '../../core/runs/format';
import { schedulerLine } from '../../core/runs/slurm/state';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('sltrain.activeRun', vscode.StatusBarAlignment.Left, 50);
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly watcher: RunWatcher) {
    this.item.name = 'SLTrain active run';
    this.unsubscribe.push(watcher.onUpdate(() => this.schedule()), watcher.onChange(() => this.schedule()));
  }

  /** At most twice a second: the status bar does not need every step. */
  private schedule(): void {
    if (!this.timer) this.timer = setTimeout(() => void this.update(), 500);
  }

  private async update(): Promise<void> {
    this.timer = undefined;
    const records = await this.watcher.store.list();
    const running = records.map((r) => this.watcher.model(r.id)).find((m) => m?.meta.status === 'running');
    // Else a batch job waiting for its allocation: its state and the scheduler's reason.
    const queued = running ? undefined : records.find((r) => r.status === 'queued');
    if (queued) {
      this.item.text = `$(watch) ${queued.name}: ${schedulerLine(queued.scheduler) ?? 'queued'}`;
      this.item.tooltip = `SLTrain run ${queued.id} waits for the scheduler — click to open`;
      this.item.command = { command: 'sltrain.openRun', title: 'Open run', arguments: [queued.id] };
      this.item.show();
      return;
    }
    if (!running) {
      this.item.hide();
      return;
    }
    this.item.text = `$(pulse) ${running.meta.name}: ${describe(running)}`;
    this.item.tooltip = `SLTrain run ${running.meta.id} — click to open`;
    this.item.command = { command: 'sltrain.openRun', title: 'Open run', arguments: [running.meta.id] };
    this.item.show();
  }

  dispose(): void {
    for (const u of this.unsubscribe) u();
    if (this.timer) clearTimeout(this.timer);
    this.item.dispose();
  }
}

function describe(m: RunModel): string {
  const n = m.steps.step.length;
  if (n === 0) return 'starting';
  const step = m.steps.step[n - 1];
  const loss = m.steps.loss[n - 1];
  const total = m.meta.totalSteps;
  const times = m.steps.stepTimeS.slice(-20).filter((t): t is number => t !== null);
  const eta = total !== undefined && times.length > 0 ? ` · ETA ${formatDuration(((total - step) * times.reduce((a, b) => a + b, 0)) / times.length)}` : '';
  return `step ${step}${total !== undefined ? `/${total}` : ''} · loss ${loss === null ? 'NaN' : formatNumber(loss, 3)}${eta}`;
}
