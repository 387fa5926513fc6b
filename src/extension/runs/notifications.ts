// Notifications for what happens while nobody is looking: completion, failure, divergence (NaN).
// Only live events notify; replaying a finished run's history after a reload stays quiet.
import * as vscode from 'vscode';
import type { RunWatcher } from '../../core/runs/watcher';

export function notifyOnUpdates(watcher: RunWatcher, open: (id: string) => void): vscode.Disposable {
  const diverged = new Set<string>();
  const unsubscribe = watcher.onUpdate((u) => {
    if (!u.live) return;
    const model = watcher.model(u.id);
    const name = model?.meta.name ?? u.id;
    const show = (kind: 'info' | 'error', text: string): void => {
      const fn = kind === 'info' ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
      void fn(text, 'Open run').then((c) => c && open(u.id));
    };
    if (u.delta.diverged !== undefined && !diverged.has(u.id)) {
      diverged.add(u.id);
      show('error', `Run "${name}" diverged: ${u.delta.diverged}`);
    }
    if (u.delta.ended === 'completed') show('info', `Run "${name}" completed at step ${model?.latestStep ?? '?'}.`);
    if (u.delta.ended === 'failed' && !diverged.has(u.id)) {
      show('error', `Run "${name}" failed: ${model?.meta.lastError?.message ?? 'see its log'}`);
    }
  });
  return { dispose: unsubscribe };
}
