// Commands that colleagues' features register (launch, runs, hosts) are contributed in package.json
// up front; until a handler exists they stay hidden through these context keys instead of failing.
import * as vscode from 'vscode';

const GATED: ReadonlyArray<[command: string, contextKey: string]> = [
  ['sltrain.launch', 'sltrain.launchAvailable'],
  ['sltrain.openRun', 'sltrain.openRunAvailable'],
  ['sltrain.stopRun', 'sltrain.stopRunAvailable'],
  ['sltrain.addHost', 'sltrain.addHostAvailable'],
];

let registered = new Set<string>();

/** Re-reads which gated commands have handlers and updates their context keys. */
export async function refreshCommandAvailability(): Promise<void> {
  const all = new Set(await vscode.commands.getCommands(true));
  registered = new Set(GATED.map(([cmd]) => cmd).filter((cmd) => all.has(cmd)));
  await Promise.all(
    GATED.map(([cmd, key]) => vscode.commands.executeCommand('setContext', key, registered.has(cmd))),
  );
}

/** As of the last refresh. */
export function isCommandAvailable(command: string): boolean {
  return registered.has(command);
}
