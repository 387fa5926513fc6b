// The option controls. They report edits as partial PlanOptions; the host replans and sends a snapshot
// back, which then sets every control that the user is not editing at that moment.
import {
  METHODS, type IndexDtype, type Method, type Optimizer, type PlanOptions, type Precision, type Sharding,
} from '../../src/core/planner/types';
import { choicesOf, PLAN_ONLY_OPTIONS } from '../../src/core/runSchema';
import { GB, type GpuChoice } from '../../src/webviewApi/protocol/planner';
import { checkbox, dropdown, textField, type Control } from '../ui/components';
import { METHOD_LABELS } from './format';

// The choices are the engine's (the run schema); only their labels are the panel's.
const PRECISION_LABELS: Record<Precision, string> = { bf16: 'bf16 (papers)', mixed: 'Mixed (fp32 master)', fp32: 'fp32' };
const OPTIMIZER_LABELS: Record<Optimizer, string> = { adamw: 'AdamW', adam8bit: '8-bit Adam' };
const INDEX_LABELS: Record<IndexDtype, string> = { auto: 'auto', int16: 'int16 CSR', int32: 'int32 flat', int64: 'int64 flat' };
const SHARDING_NAMES: Record<Sharding, string> = { ddp: 'DDP (replicated)', zero1: 'ZeRO-1', zero2: 'ZeRO-2', zero3: 'ZeRO-3', fsdp: 'FSDP' };
const RUNNABLE_SHARDING = PLAN_ONLY_OPTIONS.find((o) => o.name === 'sharding')?.runnable ?? [];
const SHARDING_LABELS = Object.fromEntries(Object.entries(SHARDING_NAMES).map(([k, label]) =>
  [k, RUNNABLE_SHARDING.includes(k) ? label : `${label} (planned only)`])) as Record<Sharding, string>;

export interface ControlsView {
  readonly element: HTMLElement;
  update(options: PlanOptions, gpus: readonly GpuChoice[]): void;
}

type Patch = Partial<PlanOptions>;

/** A number field: invalid text is flagged on the field and not sent, so the host never sees it. */
function numberField(
  id: string,
  label: string,
  parse: (text: string) => number | undefined,
  toPatch: (n: number) => Patch,
  send: (p: Patch) => void,
): Control<string> {
  const c = textField(id, label, 7);
  c.onChange((text) => {
    const n = parse(text.trim());
    c.element.classList.toggle('invalid', n === undefined);
    c.element.setAttribute('aria-invalid', String(n === undefined));
    if (n !== undefined) send(toPatch(n));
  });
  return c;
}

const positiveInt = (t: string): number | undefined => (/^\d+$/.test(t) && Number(t) >= 1 ? Number(t) : undefined);
const positive = (t: string): number | undefined => {
  const n = Number(t);
  return t !== '' && Number.isFinite(n) && n > 0 ? n : undefined;
};
const count = (t: string): number | undefined => (/^\d+$/.test(t) ? Number(t) : undefined);
const fraction = (t: string): number | undefined => {
  const n = positive(t);
  return n !== undefined && n < 1 ? n : undefined;
};

function group(title: string, ...controls: HTMLElement[]): HTMLElement {
  const fs = document.createElement('fieldset');
  fs.className = 'group';
  const legend = document.createElement('legend');
  legend.textContent = title;
  fs.append(legend, ...controls);
  return fs;
}

export function buildControls(send: (patch: Patch) => void): ControlsView {
  // Typing in a number field fires per keystroke; coalesce so "256" is one replan, not three.
  let pending: Patch = {};
  let timer: number | undefined;
  const queue = (p: Patch): void => {
    pending = { ...pending, ...p };
    if (timer !== undefined) clearTimeout(timer);
    timer = window.setTimeout(() => {
      timer = undefined;
      const out = pending;
      pending = {};
      send(out);
    }, 150);
  };

  const method = dropdown('method', 'Method to launch', METHODS.map((m) => ({ value: m, label: METHOD_LABELS[m] })));
  method.onChange((v) => send({ method: v as Method }));
  const rank = numberField('rank', 'Rank r', positiveInt, (n) => ({ rank: n }), queue);
  const delta = numberField('delta', 'Sparsity δ', fraction, (n) => ({ delta: n }), queue);
  const alpha = numberField('alpha', 'Scale α', positive, (n) => ({ alpha: n }), queue);
  const gap = numberField('galore-gap', 'GaLore update gap', positiveInt, (n) => ({ galoreUpdateGap: n }), queue);
  // SLTrain's dynamic support: 0 keeps the support fixed.
  const supportEvery = numberField('support-every', 'Support update every (0: fixed)', count, (n) => ({ supportUpdateEvery: n }), queue);
  const supportFraction = numberField('support-fraction', 'Support update fraction', fraction, (n) => ({ supportUpdateFraction: n }), queue);
  const indexDtype = dropdown('index-dtype', 'Index layout',
    (choicesOf('index_dtype') as IndexDtype[]).map((v) => ({ value: v, label: INDEX_LABELS[v] })));
  indexDtype.onChange((v) => send({ indexDtype: v as IndexDtype }));

  const batch = numberField('micro-batch', 'Micro-batch', positiveInt, (n) => ({ microBatch: n }), queue);
  const accum = numberField('grad-accum', 'Gradient accumulation', positiveInt, (n) => ({ gradAccum: n }), queue);
  const seq = numberField('seq-len', 'Sequence length', positiveInt, (n) => ({ seqLen: n }), queue);
  const precision = dropdown('precision', 'Precision',
    (choicesOf('precision') as Precision[]).map((v) => ({ value: v, label: PRECISION_LABELS[v] })));
  precision.onChange((v) => send({ precision: v as Precision }));
  const optimizer = dropdown('optimizer', 'Optimizer',
    (choicesOf('optimizer') as Optimizer[]).map((v) => ({ value: v, label: OPTIMIZER_LABELS[v] })));
  optimizer.onChange((v) => send({ optimizer: v as Optimizer }));
  const perLayer = checkbox('per-layer', 'Per-layer updates');
  perLayer.onChange((v) => send({ perLayer: v }));
  const ckpt = checkbox('grad-ckpt', 'Gradient checkpointing');
  ckpt.onChange((v) => send({ gradCkpt: v }));

  const gpuCount = numberField('gpus', 'GPUs', positiveInt, (n) => ({ gpus: n }), queue);
  const sharding = dropdown('sharding', 'Sharding', (choicesOf('sharding') as Sharding[]).map((v) => ({ value: v, label: SHARDING_LABELS[v] })));
  sharding.onChange((v) => send({ sharding: v as Sharding }));
  // The GPU list arrives with the first snapshot; until then only "Custom" exists.
  let choices: readonly GpuChoice[] = [];
  const gpu = dropdown('gpu-model', 'GPU model', [{ value: 'custom', label: 'Custom size (GB)' }]);
  const customGb = numberField('gpu-custom', 'Custom GB', positive, (n) => ({ gpuMemoryBytes: Math.round(n * GB), hopper: false }), queue);
  // Once the user picks "Custom", keep it even if the typed size happens to equal a listed GPU.
  let userCustom = false;
  gpu.onChange((id) => {
    const preset = choices.find((g) => g.id === id);
    userCustom = preset === undefined;
    customGb.element.hidden = !userCustom;
    if (preset) send({ gpuMemoryBytes: preset.bytes, hopper: preset.hopper });
    else customGb.element.focus();
  });

  const element = document.createElement('div');
  element.className = 'controls';
  element.append(
    group('Method', method.element, rank.element, delta.element, alpha.element, gap.element, indexDtype.element,
      supportEvery.element, supportFraction.element),
    group('Training step', batch.element, accum.element, seq.element, precision.element, optimizer.element, perLayer.element, ckpt.element),
    group('Hardware', gpuCount.element, sharding.element, gpu.element, customGb.element),
  );

  const setText = (c: Control<string>, v: number): void => {
    // Leave a field alone while it is focused or holds text the user has not finished (invalid).
    if (!c.hasFocus() && !c.element.classList.contains('invalid')) c.set(String(v));
  };

  return {
    element,
    update(o: PlanOptions, gpus: readonly GpuChoice[]): void {
      if (choices.length === 0 && gpus.length > 0) {
        choices = gpus;
        gpu.setChoices([...gpus.map((g) => ({ value: g.id, label: g.label })), { value: 'custom', label: 'Custom size (GB)' }]);
      }
      if (!method.hasFocus()) method.set(o.method);
      setText(rank, o.rank);
      setText(delta, o.delta);
      setText(alpha, o.alpha);
      setText(gap, o.galoreUpdateGap);
      setText(supportEvery, o.supportUpdateEvery);
      setText(supportFraction, o.supportUpdateFraction);
      if (!indexDtype.hasFocus()) indexDtype.set(o.indexDtype);
      setText(batch, o.microBatch);
      setText(accum, o.gradAccum);
      setText(seq, o.seqLen);
      if (!precision.hasFocus()) precision.set(o.precision);
      if (!optimizer.hasFocus()) optimizer.set(o.optimizer);
      perLayer.set(o.perLayer);
      ckpt.set(o.gradCkpt);
      setText(gpuCount, o.gpus);
      if (!sharding.hasFocus()) sharding.set(o.sharding);
      const preset = userCustom ? undefined : choices.find((g) => g.bytes === o.gpuMemoryBytes && g.hopper === o.hopper);
      if (!gpu.hasFocus()) gpu.set(preset ? preset.id : 'custom');
      customGb.element.hidden = preset !== undefined;
      setText(customGb, Number((o.gpuMemoryBytes / GB).toFixed(3)));
    },
  };
}
