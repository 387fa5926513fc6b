// The numbers table, the fit verdict and the inline problem list. Every figure has its exact value in a
// title tooltip, because the table rounds.
import type { PlanOptions, PlanResult } from '../../src/core/planner/types';
import type { ProblemView } from '../../src/webviewApi/protocol/planner';
import { exactBytes, exactCount, formatCount, formatGB, METHOD_LABELS } from './format';

const HEADERS = ['Method', 'Parameters', 'Trainable', 'Estimate (papers)', 'Peak (real)', 'Fits', 'Largest micro-batch'];

function cell(tag: 'td' | 'th', text: string, title?: string): HTMLTableCellElement {
  const c = document.createElement(tag);
  c.textContent = text;
  if (title !== undefined) c.title = title;
  return c;
}

export function renderTable(table: HTMLTableElement, results: readonly PlanResult[], selected: PlanOptions['method']): void {
  const head = document.createElement('thead');
  const hr = head.insertRow();
  for (const h of HEADERS) {
    const th = cell('th', h);
    th.scope = 'col';
    hr.appendChild(th);
  }
  const body = document.createElement('tbody');
  for (const r of results) {
    const row = body.insertRow();
    row.dataset.method = r.method;
    if (r.method === selected) row.className = 'selected';
    const name = cell('th', METHOD_LABELS[r.method]);
    name.scope = 'row';
    row.append(
      name,
      cell('td', formatCount(r.params.total), exactCount(r.params.total, 'parameters')),
      cell('td', formatCount(r.params.trainable), exactCount(r.params.trainable, 'trainable parameters')),
      cell('td', formatGB(r.estimate.totalBytes), exactBytes(r.estimate.totalBytes)),
      cell('td', formatGB(r.peak.bytes), `${exactBytes(r.peak.bytes)} at the ${r.peak.phase} phase`),
      cell('td', r.fits.fits ? 'Yes' : 'No', `GPU memory: ${exactBytes(r.fits.gpuMemoryBytes)}`),
      cell('td', String(r.fits.maxMicroBatch)),
    );
    row.cells[5].className = r.fits.fits ? 'fit-yes' : 'fit-no';
  }
  table.replaceChildren(head, body);
}

/** One sentence about the method that would be launched, plus SLTrain's suggestion when it does not fit. */
export function renderVerdict(el: HTMLElement, results: readonly PlanResult[], options: PlanOptions): void {
  const r = results.find((x) => x.method === options.method);
  el.className = 'verdict';
  if (!r) {
    el.textContent = '';
    return;
  }
  const gpu = options.gpus > 1 ? `each of ${options.gpus} GPUs with ${formatGB(r.fits.gpuMemoryBytes)}` : `a ${formatGB(r.fits.gpuMemoryBytes)} GPU`;
  const name = METHOD_LABELS[r.method];
  let text = r.fits.fits
    ? `${name} fits on ${gpu}: peak ${formatGB(r.peak.bytes)} at micro-batch ${options.microBatch}; the largest micro-batch that fits is ${r.fits.maxMicroBatch}.`
    : `${name} does not fit on ${gpu}: peak ${formatGB(r.peak.bytes)} at micro-batch ${options.microBatch}` +
      (r.fits.maxMicroBatch > 0 ? `; micro-batch ${r.fits.maxMicroBatch} fits.` : '; even micro-batch 1 does not fit.');
  if (r.fits.suggestion) {
    const s = r.fits.suggestion;
    text += ` Rank ${s.rank} with δ ${s.delta} would fit (peak ${formatGB(s.peakBytes)}).`;
  }
  el.textContent = text;
  el.classList.add(r.fits.fits ? 'fit-yes' : 'fit-no');
}

/** The problems with the config or options; a problem with a position becomes a button that jumps there. */
export function renderProblems(
  el: HTMLElement,
  problems: readonly ProblemView[],
  stale: boolean,
  reveal: (line: number, column: number) => void,
): void {
  el.hidden = problems.length === 0;
  const list = document.createElement('ul');
  for (const p of problems) {
    const li = document.createElement('li');
    if (p.line !== undefined) {
      const at = document.createElement('button');
      at.type = 'button';
      at.className = 'location';
      at.textContent = `Line ${p.line}, column ${p.column ?? 1}`;
      at.title = 'Show in the editor';
      at.addEventListener('click', () => reveal(p.line ?? 1, p.column ?? 1));
      li.append(at, ' ');
    } else if (p.field !== undefined) {
      const f = document.createElement('code');
      f.textContent = p.field;
      li.append(f, ' ');
    }
    li.append(p.message);
    list.appendChild(li);
  }
  const children: Node[] = [list];
  if (stale) {
    const note = document.createElement('p');
    note.className = 'stale-note';
    note.textContent = 'The numbers below are from the last valid version of the config.';
    children.push(note);
  }
  el.replaceChildren(...children);
}
