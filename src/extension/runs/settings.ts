// Where runs live and which engine/interpreter runs them, from settings with documented fallbacks.
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import type { PythonSources } from '../../core/runs/environment';

function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** `sltrain.runsDirectory` (relative to the workspace), else `.sltrain/runs` in the workspace, else global storage. */
export function runsDirectory(context: vscode.ExtensionContext): string {
  const setting = vscode.workspace.getConfiguration('sltrain').get<string>('runsDirectory', '').trim();
  const root = workspaceRoot();
  if (setting) return isAbsolute(setting) || !root ? setting : join(root, setting);
  return root ? join(root, '.sltrain', 'runs') : join(context.globalStorageUri.fsPath, 'runs');
}

/** `sltrain.engineLocation`, else the engine bundled in the extension. */
export function engineDirectory(context: vscode.ExtensionContext): string {
  const setting = vscode.workspace.getConfiguration('sltrain').get<string>('engineLocation', '').trim();
  return setting || join(context.extensionPath, 'engine');
}

/** The Python extension's active interpreter, if that extension is installed (its API is untyped here). */
async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension('ms-python.python');
  if (!ext) return undefined;
  try {
    const api: unknown = ext.isActive ? ext.exports : await ext.activate();
    const envs = (api as { environments?: { getActiveEnvironmentPath?: () => { path?: unknown } } }).environments;
    const path = envs?.getActiveEnvironmentPath?.().path;
    return typeof path === 'string' && path !== 'python' ? path : undefined;
  } catch {
    return undefined;
  }
}

export async function pythonSources(context: vscode.ExtensionContext): Promise<PythonSources> {
  const setting = vscode.workspace.getConfiguration('sltrain').get<string>('pythonPath', '').trim();
  const fromExtension = await pythonExtensionInterpreter();
  return {
    engineDir: engineDirectory(context),
    ...(setting ? { setting } : {}),
    ...(fromExtension ? { pythonExtension: fromExtension } : {}),
  };
}
