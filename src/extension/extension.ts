// Extension entry point: wires the planner and, when present, the run features; everything else lives
// in the feature folders.
import * as vscode from 'vscode';
import { refreshCommandAvailability } from './commandAvailability';
import { registerPlanner } from './planner/register';

export function activate(context: vscode.ExtensionContext): void {
  registerPlanner(context);
  void refreshCommandAvailability();
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void refreshCommandAvailability()));
}

export function deactivate(): void {
  // Nothing to stop: panels and listeners are disposed through context.subscriptions.
}
