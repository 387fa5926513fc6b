// The planner's source and the user's option edits, also kept in a file under the extension's storage:
// a window reload can bring the panel back before VS Code has flushed the page's setState, and then
// the serializer receives no state. The file is written by the extension host at once, so it is current.
import * as vscode from 'vscode';
import type { PlanOptions } from '../../core/planner/types';
import type { PlannerSource } from '../../webviewApi/protocol/planner';
import { sanitizeOptions } from './optionInput';

export interface LastPanel {
  source: PlannerSource;
  overrides: Partial<PlanOptions>;
}

export function isPlannerSource(v: unknown): v is PlannerSource {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  if (typeof s.label !== 'string') return false;
  return (s.kind === 'file' && typeof s.uri === 'string') || (s.kind === 'preset' && typeof s.preset === 'string');
}

/** Accepts a page state or the stored file's contents; anything malformed is `undefined`. */
export function parseLastPanel(v: unknown): LastPanel | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return isPlannerSource(o.source) ? { source: o.source, overrides: sanitizeOptions(o.overrides) } : undefined;
}

export class LastPanelStore {
  private readonly file: vscode.Uri;

  constructor(dir: vscode.Uri) {
    this.file = vscode.Uri.joinPath(dir, 'planner-panel.json');
  }

  async save(value: LastPanel): Promise<void> {
    try {
      await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(this.file, '..'));
      await vscode.workspace.fs.writeFile(this.file, new TextEncoder().encode(JSON.stringify(value)));
    } catch {
      // Best effort: without the file a reload falls back to the page state or a preset.
    }
  }

  async load(): Promise<LastPanel | undefined> {
    try {
      return parseLastPanel(JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(this.file))));
    } catch {
      return undefined;
    }
  }
}
