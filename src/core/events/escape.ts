// Text from events, logs and run records is data: a message holding ESC, CSI, OSC or a carriage
// return would otherwise set the terminal's title, clear the screen or overwrite a line with a
// forged one. Every such character is shown as a visible escape (`\x1b`, `\u202e`) instead.

/** C0 controls (newline and tab included: one event is one line), DEL, C1, line/paragraph separators, bidi overrides. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The same set minus what JSON.stringify already escapes (C0), for JSON lines shown in a terminal. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function hex(c: string, width: number): string {
  return c.charCodeAt(0).toString(16).padStart(width, '0');
}

/** `text` with every control character written as a visible escape; printable text is unchanged. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** JSON.stringify(value) safe to print: still valid JSON, and parses back to the same value. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}

/** Several lines (a log's tail): each escaped, the newlines between them kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControls).join('\n');
}
