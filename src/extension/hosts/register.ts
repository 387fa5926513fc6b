// Host features of the extension: the "Add GPU host" command. Called by the extension entry point.
import * as vscode from 'vscode';
import { addHostCommand } from './addHost';

export function registerHostFeatures(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('sltrain.addHost', () => addHostCommand(context)));
}
