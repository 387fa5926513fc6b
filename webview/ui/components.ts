// The one module that knows which web-component library draws our controls. Today it is
// @vscode/webview-ui-toolkit 1.4.0 (deprecated upstream, pinned); moving to @vscode-elements/elements
// means rewriting this file only: pages see plain HTMLElements and the small Control interface below.
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeRadio,
  vsCodeRadioGroup,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;

/** Defines the custom elements once per page (a second define of the same tag throws). */
export function registerComponents(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodeRadio(),
    vsCodeRadioGroup(),
    vsCodeTextField(),
  );
}

/** A labelled input whose value the page reads and writes without knowing the element type. */
export interface Control<T> {
  /** The element to place in the page (the label is inside it or next to it). */
  readonly element: HTMLElement;
  get(): T;
  set(value: T): void;
  setDisabled(disabled: boolean): void;
  /** Whether the user is in the middle of editing it (the page must not overwrite it then). */
  hasFocus(): boolean;
  onChange(listener: (value: T) => void): void;
}

export interface Choice {
  value: string;
  label: string;
}

/** The properties all toolkit form elements share (FAST form-associated elements). */
interface FormElement extends HTMLElement {
  value: string;
  disabled: boolean;
}

interface CheckElement extends HTMLElement {
  checked: boolean;
  disabled: boolean;
}

function make<E extends HTMLElement>(tag: string, id: string): E {
  const el = document.createElement(tag) as E;
  el.id = id;
  return el;
}

function focusedWithin(el: HTMLElement): boolean {
  return el === document.activeElement || el.contains(document.activeElement);
}

/** A free text field (numbers are parsed by the caller, which can then flag bad input). */
export function textField(id: string, label: string, size = 8): Control<string> {
  const el = make<FormElement>('vscode-text-field', id);
  el.setAttribute('size', String(size));
  el.textContent = label;
  return {
    element: el,
    get: () => el.value,
    set: (v) => {
      if (el.value !== v) el.value = v;
    },
    setDisabled: (d) => (el.disabled = d),
    hasFocus: () => focusedWithin(el),
    onChange: (listener) => el.addEventListener('input', () => listener(el.value)),
  };
}

export interface Dropdown extends Control<string> {
  /** Replaces the options (keeps the value when it is still offered). */
  setChoices(choices: readonly Choice[]): void;
}

function options(choices: readonly Choice[]): HTMLElement[] {
  return choices.map((c) => {
    const opt = document.createElement('vscode-option');
    opt.setAttribute('value', c.value);
    opt.textContent = c.label;
    return opt;
  });
}

/** A drop-down with a visible label; the toolkit's dropdown has no label slot, so it is a sibling. */
export function dropdown(id: string, label: string, choices: readonly Choice[]): Dropdown {
  const wrap = document.createElement('div');
  wrap.className = 'ui-field';
  const caption = document.createElement('label');
  caption.id = `${id}-label`;
  caption.textContent = label;
  const el = make<FormElement>('vscode-dropdown', id);
  el.setAttribute('aria-labelledby', caption.id);
  el.append(...options(choices));
  // Clicking the caption focuses the dropdown, as it would for a native <select>.
  caption.addEventListener('click', () => el.focus());
  wrap.append(caption, el);
  // Options added in this task are only registered once their slotchange has run, and then the toolkit
  // selects the first one; so the wanted value is applied again after that.
  let wanted: string | undefined;
  const apply = (): void => {
    if (wanted !== undefined && el.value !== wanted) el.value = wanted;
  };
  return {
    element: wrap,
    get: () => el.value,
    set: (v) => {
      wanted = v;
      apply();
      setTimeout(apply, 0);
    },
    setDisabled: (d) => (el.disabled = d),
    hasFocus: () => focusedWithin(el),
    onChange: (listener) => el.addEventListener('change', () => {
      wanted = el.value;
      listener(el.value);
    }),
    setChoices: (next) => {
      wanted ??= el.value;
      el.replaceChildren(...options(next));
      setTimeout(apply, 0);
    },
  };
}

export function checkbox(id: string, label: string): Control<boolean> {
  const el = make<CheckElement>('vscode-checkbox', id);
  el.textContent = label;
  return {
    element: el,
    get: () => el.checked,
    set: (v) => {
      if (el.checked !== v) el.checked = v;
    },
    setDisabled: (d) => (el.disabled = d),
    hasFocus: () => focusedWithin(el),
    onChange: (listener) => el.addEventListener('change', () => listener(el.checked)),
  };
}

/** A row of radio buttons; arrow keys move between them (the toolkit implements the ARIA pattern). */
export function radioGroup(id: string, label: string, choices: readonly Choice[]): Control<string> {
  const el = make<FormElement>('vscode-radio-group', id);
  const caption = document.createElement('label');
  caption.slot = 'label';
  caption.textContent = label;
  el.appendChild(caption);
  for (const c of choices) {
    const radio = document.createElement('vscode-radio');
    radio.setAttribute('value', c.value);
    radio.textContent = c.label;
    el.appendChild(radio);
  }
  return {
    element: el,
    get: () => el.value,
    set: (v) => {
      if (el.value !== v) el.value = v;
    },
    setDisabled: (d) => (el.disabled = d),
    hasFocus: () => focusedWithin(el),
    onChange: (listener) => el.addEventListener('change', () => listener(el.value)),
  };
}

export interface Button {
  readonly element: HTMLElement;
  setDisabled(disabled: boolean): void;
  onClick(listener: () => void): void;
}

export function button(id: string, label: string, appearance: 'primary' | 'secondary' = 'primary'): Button {
  const el = make<CheckElement>('vscode-button', id);
  el.setAttribute('appearance', appearance);
  el.textContent = label;
  return {
    element: el,
    setDisabled: (d) => (el.disabled = d),
    onClick: (listener) => el.addEventListener('click', () => {
      if (!el.disabled) listener();
    }),
  };
}
