// Beside the verdict of a plan that does not fit: the single changes that make it fit (or come
// closest), each with the peak it gives and a button that applies it; and the "Measure here" status.
import type { FitChange } from '../../src/core/planner/fitChanges';
import type { PlanOptions } from '../../src/core/planner/types';
import type { MeasuredView } from '../../src/webviewApi/protocol/planner';
import { exactBytes, formatGB } from './format';

export function renderChanges(box: HTMLElement, changes: readonly FitChange[], apply: (o: Partial<PlanOptions>) => void): void {
  box.hidden = changes.length === 0;
  if (changes.length === 0) {
    box.replaceChildren();
    return;
  }
  const title = document.createElement('p');
  title.className = 'changes-title';
  title.textContent = changes.some((c) => c.fits) ? 'Changes that make it fit:' : 'No single change makes it fit; the closest:';
  const list = document.createElement('ul');
  for (const c of changes) {
    const item = document.createElement('li');
    item.className = c.fits ? 'change fit-yes' : 'change fit-no';
    const code = document.createElement('code');
    code.textContent = c.label;
    const peak = document.createElement('span');
    peak.className = 'change-peak';
    peak.textContent = ` peak ${formatGB(c.peakBytes)}${c.fits ? '' : ' (still too large)'}`;
    peak.title = exactBytes(c.peakBytes);
    const button = document.createElement('button');
    button.className = 'apply-change';
    button.textContent = 'Apply';
    button.title = `Set ${c.label} in the controls below`;
    button.addEventListener('click', () => apply(c.options));
    item.append(button, code, peak);
    list.appendChild(item);
  }
  box.replaceChildren(title, list);
}

export function measuredStatus(m: MeasuredView): string {
  switch (m.state) {
    case 'none':
      return '';
    case 'running':
      return `Measuring one training step on ${m.where}…`;
    case 'done': {
      const peak = Math.max(...m.timeline.events.map((e) => e.allocatedBytes ?? e.tensorBytes));
      // Without CUDA only tensors are counted: no cuBLAS workspace, no loss or optimizer transients.
      const what = m.timeline.events.some((e) => e.allocatedBytes !== null) ? 'allocated'
        : 'tensors only: no cuBLAS workspace or transients on a CPU';
      return `Measured on ${m.where} (${m.timeline.device}): highest ${formatGB(peak)} (${what}) over ${m.timeline.events.length} events.`;
    }
    case 'failed':
      return `Could not measure on ${m.where}: ${m.message}`;
  }
}
