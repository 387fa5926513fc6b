// Chart.js draws on a canvas and cannot resolve CSS variables, so the theme's colours are copied out of
// the computed `--vscode-*` variables and copied again whenever VS Code switches theme (it swaps the
// body's class between vscode-light, vscode-dark, vscode-high-contrast and vscode-high-contrast-light).

export interface ChartTheme {
  /** Series colours, in a stable order so a series keeps its colour across updates. */
  palette: string[];
  foreground: string;
  grid: string;
  background: string;
  /** Outline around bars: only set in high-contrast themes, where fills alone are not enough. */
  border: string | undefined;
  fontFamily: string;
  fontSize: number;
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
}

// VS Code's chart colours first (the ones its own charts use), then terminal colours for more series.
const PALETTE_VARS: ReadonlyArray<[string, string]> = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-yellow', '#cca700'],
  ['--vscode-charts-red', '#f14c4c'],
  ['--vscode-terminal-ansiCyan', '#11a8cd'],
  ['--vscode-terminal-ansiMagenta', '#bc3fbc'],
  ['--vscode-terminal-ansiBrightBlack', '#808080'],
  ['--vscode-terminal-ansiBrightBlue', '#3b8eea'],
];

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

export function themeKind(body: HTMLElement = document.body): ChartTheme['kind'] {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

/** Reads the current theme's colours (call again after a theme change; values are not live). */
export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.body);
  const kind = themeKind();
  const highContrast = kind === 'high-contrast' || kind === 'high-contrast-light';
  const size = Number.parseFloat(cssVar(style, '--vscode-font-size', '13'));
  return {
    palette: PALETTE_VARS.map(([name, fallback]) => cssVar(style, name, fallback)),
    foreground: cssVar(style, '--vscode-charts-foreground', cssVar(style, '--vscode-foreground', '#cccccc')),
    grid: cssVar(style, '--vscode-charts-lines', 'rgba(128, 128, 128, 0.35)'),
    background: cssVar(style, '--vscode-editor-background', '#1e1e1e'),
    border: highContrast ? cssVar(style, '--vscode-contrastBorder', '#6fc3df') : undefined,
    fontFamily: cssVar(style, '--vscode-font-family', 'sans-serif'),
    fontSize: Number.isFinite(size) ? size : 13,
    kind,
  };
}

/**
 * Calls `onChange` with fresh colours after every theme switch; returns the function that stops watching.
 * VS Code updates the variables together with the body's class and `data-vscode-theme-id` (the latter
 * also changes between two themes of the same kind), so reading them in the callback is safe.
 */
export function watchChartTheme(onChange: (theme: ChartTheme) => void): () => void {
  const observer = new MutationObserver(() => onChange(readChartTheme()));
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-id'] });
  return () => observer.disconnect();
}
