// The launch dialog's optional tracker step: a multi-select of the trackers the run can report to.
import * as vscode from 'vscode';
import { trackerChoices } from '../../core/runs/trackerOffer';

/**
 * The picked tracker names ([] for none); undefined when the user cancelled the launch. With nothing
 * to offer (no tracker installed for this machine's Python) the step is skipped and the run file's
 * own choice stands (undefined reportTo), which the engine then checks.
 */
export async function pickTrackers(found: readonly string[] | undefined, where: string, preset: unknown):
  Promise<{ reportTo?: string[] } | undefined> {
  const choices = trackerChoices(found, where, preset);
  if (choices.length === 0) return {};
  const items = choices.map((c) => ({ label: c.name, description: c.description, picked: c.picked }));
  const picked = await new Promise<string[] | undefined>((resolve) => {
    const qp = vscode.window.createQuickPick<(typeof items)[number]>();
    qp.title = 'Report to trackers (optional: pick none to keep the run to its own events)';
    qp.placeholder = 'TensorBoard, W&B, MLflow or Trackio receive every step and eval';
    qp.canSelectMany = true;
    qp.items = items;
    qp.selectedItems = items.filter((i) => i.picked);
    let done = false;
    qp.onDidAccept(() => {
      done = true;
      resolve(qp.selectedItems.map((i) => i.label));
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
  return picked === undefined ? undefined : { reportTo: picked };
}
