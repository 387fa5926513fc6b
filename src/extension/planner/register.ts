// Registers the planner command and the serializer that brings the panel back after a window reload.
import * as vscode from 'vscode';
import { PLANNER_VIEW_TYPE, type PlannerPageState } from '../../shared/protocol/planner';
import { chooseSource, fileSource, presetSource } from './configSource';
import { PlannerPanel } from './PlannerPanel';

function isPageState(v: unknown): v is PlannerPageState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<PlannerPageState>;
  return typeof s.source === 'object' && s.source !== null && typeof s.options === 'object' && s.options !== null;
}

export function registerPlanner(context: vscode.ExtensionContext): void {
  const extensionUri = context.extensionUri;
  context.subscriptions.push(
    // From the explorer or editor context menu the command gets the file's URI; from the palette nothing.
    vscode.commands.registerCommand('sltrain.plan', async (uri?: vscode.Uri) => {
      const source = uri instanceof vscode.Uri ? fileSource(uri) : await chooseSource(true);
      if (source) PlannerPanel.createOrShow(extensionUri, source);
    }),
    vscode.window.registerWebviewPanelSerializer(PLANNER_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        // A page that never rendered has no state: fall back to a preset rather than a blank panel.
        const restored = isPageState(state) ? state : undefined;
        PlannerPanel.revive(panel, extensionUri, restored?.source ?? presetSource('llama_60m'), restored?.options ?? {});
      },
    }),
  );
}
