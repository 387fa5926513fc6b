// Where the planned model config comes from, and reading it: the text of an open editor (so unsaved
// edits count), the file on disk, or a bundled preset.
import * as vscode from 'vscode';
import { ConfigError, findPreset, parseLlamaConfigText, PRESETS, type ModelConfig } from '../../core/modelConfig';
import type { PlannerSource, ProblemView } from '../../webviewApi/protocol/planner';

export type LoadedConfig = { ok: true; config: ModelConfig } | { ok: false; problems: ProblemView[] };

export function fileSource(uri: vscode.Uri): PlannerSource {
  return { kind: 'file', uri: uri.toString(), label: vscode.workspace.asRelativePath(uri) };
}

export function presetSource(name: string): PlannerSource {
  return { kind: 'preset', preset: name, label: `preset ${name}` };
}

export function openDocumentFor(uri: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
}

/** Parses a config text; every failure becomes problems (never throws). */
export function parseConfig(text: string, name: string): LoadedConfig {
  try {
    return { ok: true, config: parseLlamaConfigText(text, name) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, problems: e.problems };
    return { ok: false, problems: [{ message: `${name}: ${e instanceof Error ? e.message : String(e)}` }] };
  }
}

export async function loadSource(source: PlannerSource): Promise<LoadedConfig> {
  if (source.kind === 'preset') {
    const preset = findPreset(source.preset);
    if (preset) return { ok: true, config: preset.config };
    return { ok: false, problems: [{ message: `Unknown preset "${source.preset}". Pick another config.` }] };
  }
  const uri = vscode.Uri.parse(source.uri);
  const doc = openDocumentFor(source.uri);
  if (doc) return parseConfig(doc.getText(), source.label);
  try {
    const bytes = await vscode.workspace.fs.readFile(uri);
    return parseConfig(new TextDecoder().decode(bytes), source.label);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, problems: [{ message: `Cannot read ${source.label}: ${why}. Open another config.` }] };
  }
}

/** A JSON document that at least claims to be a Llama config (broken ones still count: they get problems). */
export function looksLikeLlamaConfig(doc: vscode.TextDocument): boolean {
  if (doc.languageId !== 'json' && doc.languageId !== 'jsonc' && !doc.fileName.endsWith('.json')) return false;
  const text = doc.getText();
  return /"model_type"\s*:\s*"llama"/.test(text) || /"hidden_size"\s*:/.test(text);
}

/** The active editor's config if it looks like one, else what the user picks (undefined: cancelled). */
export async function chooseSource(preferActiveEditor: boolean): Promise<PlannerSource | undefined> {
  const doc = vscode.window.activeTextEditor?.document;
  if (preferActiveEditor && doc && looksLikeLlamaConfig(doc)) return fileSource(doc.uri);
  type Item = vscode.QuickPickItem & { source?: PlannerSource };
  const open: Item = { label: '$(folder-opened) Open a config.json…', alwaysShow: true };
  const items: Item[] = [
    open,
    { label: 'Presets', kind: vscode.QuickPickItemKind.Separator },
    ...PRESETS.map((p) => ({
      label: p.name,
      description: `hidden ${p.config.hiddenSize} · ${p.config.numHiddenLayers} layers`,
      detail: p.source,
      source: presetSource(p.name),
    })),
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Plan SLTrain run',
    placeHolder: 'Pick a model preset or open a Hugging Face config.json',
    matchOnDescription: true,
  });
  if (!pick) return undefined;
  if (pick.source) return pick.source;
  const files = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'Model config': ['json'] },
    openLabel: 'Plan',
  });
  return files?.[0] ? fileSource(files[0]) : undefined;
}
