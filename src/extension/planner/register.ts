// Registers the planner command and the serializer that brings the panel back after a window reload.
import * as vscode from 'vscode';
import { PLANNER_VIEW_TYPE } from '../../webviewApi/protocol/planner';
import { chooseSource, fileSource, presetSource } from './configSource';
import { LastPanelStore, parseLastPanel } from './lastPanel';
import { measureHere } from './measureHere';
import { PlannerPanel } from './PlannerPanel';

export function registerPlanner(context: vscode.ExtensionContext): void {
  const extensionUri = context.extensionUri;
  const store = new LastPanelStore(context.storageUri ?? context.globalStorageUri);
  PlannerPanel.measure = measureHere(context);
  context.subscriptions.push(
    // From the explorer or editor context menu the command gets the file's URI; from the palette nothing.
    vscode.commands.registerCommand('sltrain.plan', async (uri?: vscode.Uri) => {
      const source = uri instanceof vscode.Uri ? fileSource(uri) : await chooseSource(true);
      if (source) PlannerPanel.createOrShow(extensionUri, store, source);
    }),
    vscode.window.registerWebviewPanelSerializer(PLANNER_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        // The host's own record is written at once; the page's state can lag behind a quick reload.
        const last = (await store.load()) ?? parseLastPanel(state) ?? { source: presetSource('llama_60m'), overrides: {} };
        PlannerPanel.revive(panel, extensionUri, store, last);
      },
    }),
  );
}
