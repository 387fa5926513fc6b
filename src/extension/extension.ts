// Extension entry point: wires the planner, the run features and the host features; each lives in its
// own folder and registers its own commands.
import * as vscode from 'vscode';
import { refreshCommandAvailability } from './commandAvailability';
import { registerHostFeatures } from './hosts/register';
import { registerPlanner } from './planner/register';
import { registerRunFeatures } from './runs/register';

export function activate(context: vscode.ExtensionContext): void {
  registerPlanner(context);
  registerRunFeatures(context);
  registerHostFeatures(context);
  // After the features above: the context keys that un-hide their commands follow what is registered.
  void refreshCommandAvailability();
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void refreshCommandAvailability()));
}

export function deactivate(): void {
  // Nothing to stop: panels and listeners are disposed through context.subscriptions, and runs are
  // detached processes that outlive the window on purpose.
}
