// The run chip's tracker links (the engine's `tracker` events): each tracker the run reports to, with
// what can be done from here — open its page, reveal its folder (runs on this machine), copy the
// command that shows it. The page only asks; the host checks the link again before acting on it.
import type { RunMeta, TrackerAction, TrackerLink } from '../../src/webviewApi/protocol/runview';

const LABELS: Record<string, string> = { tensorboard: 'TensorBoard', wandb: 'W&B', mlflow: 'MLflow', trackio: 'Trackio' };

export type PostTracker = (name: string, action: TrackerAction) => void;

function button(cls: string, text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = cls;
  b.textContent = text;
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

function linkOf(t: TrackerLink, local: boolean, post: PostTracker): HTMLElement {
  const box = document.createElement('span');
  box.className = 'tracker';
  box.dataset.tracker = t.name;
  const label = document.createElement('span');
  label.className = 'tracker-name';
  label.textContent = LABELS[t.name] ?? t.name;
  box.append(label);
  if (t.url && /^https?:\/\//i.test(t.url)) box.append(button('tracker-open', 'Open', t.url, () => post(t.name, 'open')));
  if (t.path && local) box.append(button('tracker-reveal', 'Folder', t.path, () => post(t.name, 'reveal')));
  else if (t.path) box.title = `on the host: ${t.path}`;
  if (t.command) box.append(button('tracker-copy', 'Copy command', t.command, () => post(t.name, 'copy')));
  return box;
}

/** The links of one run, or nothing when it reports to no tracker. */
export function trackerLinks(meta: RunMeta, post: PostTracker): HTMLElement[] {
  return (meta.trackers ?? []).map((t) => linkOf(t, meta.local === true, post));
}
