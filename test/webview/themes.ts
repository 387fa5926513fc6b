// Theme variables as VS Code injects them into a webview (a subset: what our page and the toolkit read).
// Values follow VS Code's Dark Modern, Light Modern and Dark High Contrast themes.

export type ThemeName = 'dark' | 'light' | 'high-contrast';

interface Theme {
  bodyClass: string;
  vars: Record<string, string>;
}

const common = {
  '--vscode-font-family': 'system-ui, "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-font-weight': 'normal',
  '--vscode-editor-font-family': '"Droid Sans Mono", monospace',
};

export const THEMES: Record<ThemeName, Theme> = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      ...common,
      '--vscode-foreground': '#cccccc', '--vscode-descriptionForeground': '#9d9d9d', '--vscode-errorForeground': '#f85149',
      '--vscode-editor-background': '#1f1f1f', '--vscode-focusBorder': '#0078d4', '--vscode-widget-border': '#313131',
      '--vscode-panel-border': '#2b2b2b', '--vscode-textLink-foreground': '#4daafc',
      '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': 'rgba(204, 204, 204, 0.5)',
      '--vscode-charts-blue': '#3794ff', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#89d185',
      '--vscode-charts-purple': '#b180d7', '--vscode-charts-yellow': '#cca700', '--vscode-charts-red': '#f14c4c',
      '--vscode-terminal-ansiCyan': '#11a8cd', '--vscode-terminal-ansiMagenta': '#bc3fbc',
      '--vscode-terminal-ansiBrightBlack': '#666666', '--vscode-terminal-ansiBrightBlue': '#3b8eea',
      '--vscode-inputValidation-errorBackground': '#5a1d1d', '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-list-inactiveSelectionBackground': '#37373d', '--vscode-testing-iconPassed': '#73c991',
      '--vscode-testing-iconFailed': '#f14c4c',
      '--vscode-button-background': '#0078d4', '--vscode-button-foreground': '#ffffff', '--vscode-button-hoverBackground': '#026ec1',
      '--vscode-button-secondaryBackground': '#313131', '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-button-secondaryHoverBackground': '#3c3c3c', '--vscode-button-border': 'rgba(255, 255, 255, 0.07)',
      '--vscode-input-background': '#313131', '--vscode-input-foreground': '#cccccc', '--vscode-input-border': '#3c3c3c',
      '--vscode-input-placeholderForeground': '#989898', '--vscode-dropdown-background': '#313131',
      '--vscode-dropdown-foreground': '#cccccc', '--vscode-dropdown-border': '#3c3c3c', '--vscode-dropdown-listBackground': '#1f1f1f',
      '--vscode-checkbox-background': '#313131', '--vscode-checkbox-border': '#3c3c3c', '--vscode-checkbox-foreground': '#cccccc',
      '--vscode-list-activeSelectionBackground': '#04395e', '--vscode-list-activeSelectionForeground': '#ffffff',
      '--vscode-list-hoverBackground': '#2a2d2e',
    },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: {
      ...common,
      '--vscode-foreground': '#3b3b3b', '--vscode-descriptionForeground': '#3b3b3b', '--vscode-errorForeground': '#f85149',
      '--vscode-editor-background': '#ffffff', '--vscode-focusBorder': '#005fb8', '--vscode-widget-border': '#e5e5e5',
      '--vscode-panel-border': '#e5e5e5', '--vscode-textLink-foreground': '#005fb8',
      '--vscode-charts-foreground': '#3b3b3b', '--vscode-charts-lines': 'rgba(59, 59, 59, 0.5)',
      '--vscode-charts-blue': '#1a85ff', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#388a34',
      '--vscode-charts-purple': '#652d90', '--vscode-charts-yellow': '#bf8803', '--vscode-charts-red': '#e51400',
      '--vscode-terminal-ansiCyan': '#0598bc', '--vscode-terminal-ansiMagenta': '#bc05bc',
      '--vscode-terminal-ansiBrightBlack': '#666666', '--vscode-terminal-ansiBrightBlue': '#0451a5',
      '--vscode-inputValidation-errorBackground': '#f2dede', '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-list-inactiveSelectionBackground': '#e4e6f1', '--vscode-testing-iconPassed': '#388a34',
      '--vscode-testing-iconFailed': '#f14c4c',
      '--vscode-button-background': '#005fb8', '--vscode-button-foreground': '#ffffff', '--vscode-button-hoverBackground': '#0258a8',
      '--vscode-button-secondaryBackground': '#e5e5e5', '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-button-secondaryHoverBackground': '#cccccc', '--vscode-button-border': 'rgba(0, 0, 0, 0.1)',
      '--vscode-input-background': '#ffffff', '--vscode-input-foreground': '#3b3b3b', '--vscode-input-border': '#cecece',
      '--vscode-input-placeholderForeground': '#767676', '--vscode-dropdown-background': '#ffffff',
      '--vscode-dropdown-foreground': '#3b3b3b', '--vscode-dropdown-border': '#cecece', '--vscode-dropdown-listBackground': '#ffffff',
      '--vscode-checkbox-background': '#f8f8f8', '--vscode-checkbox-border': '#cecece', '--vscode-checkbox-foreground': '#3b3b3b',
      '--vscode-list-activeSelectionBackground': '#e8e8e8', '--vscode-list-activeSelectionForeground': '#000000',
      '--vscode-list-hoverBackground': '#f2f2f2',
    },
  },
  'high-contrast': {
    bodyClass: 'vscode-high-contrast',
    vars: {
      ...common,
      '--vscode-foreground': '#ffffff', '--vscode-descriptionForeground': '#ffffffb3', '--vscode-errorForeground': '#f48771',
      '--vscode-editor-background': '#000000', '--vscode-focusBorder': '#f38518', '--vscode-contrastBorder': '#6fc3df',
      '--vscode-widget-border': '#6fc3df', '--vscode-panel-border': '#6fc3df', '--vscode-textLink-foreground': '#21a6ff',
      '--vscode-charts-foreground': '#ffffff', '--vscode-charts-lines': 'rgba(255, 255, 255, 0.5)',
      '--vscode-charts-blue': '#3794ff', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#89d185',
      '--vscode-charts-purple': '#b180d7', '--vscode-charts-yellow': '#ffff00', '--vscode-charts-red': '#f48771',
      '--vscode-terminal-ansiCyan': '#00ffff', '--vscode-terminal-ansiMagenta': '#ff00ff',
      '--vscode-terminal-ansiBrightBlack': '#7f7f7f', '--vscode-terminal-ansiBrightBlue': '#5c5cff',
      '--vscode-inputValidation-errorBackground': '#000000', '--vscode-inputValidation-errorBorder': '#6fc3df',
      '--vscode-testing-iconPassed': '#73c991', '--vscode-testing-iconFailed': '#f48771',
      '--vscode-button-background': '#000000', '--vscode-button-foreground': '#ffffff', '--vscode-button-border': '#6fc3df',
      '--vscode-button-secondaryBackground': '#000000', '--vscode-button-secondaryForeground': '#ffffff',
      '--vscode-input-background': '#000000', '--vscode-input-foreground': '#ffffff', '--vscode-input-border': '#6fc3df',
      '--vscode-dropdown-background': '#000000', '--vscode-dropdown-foreground': '#ffffff', '--vscode-dropdown-border': '#6fc3df',
      '--vscode-dropdown-listBackground': '#000000', '--vscode-checkbox-background': '#000000',
      '--vscode-checkbox-border': '#6fc3df', '--vscode-checkbox-foreground': '#ffffff',
      '--vscode-list-activeSelectionBackground': '#000000', '--vscode-list-hoverBackground': '#000000',
    },
  },
};

/** A script body that switches the page's theme the way VS Code does: variables on <html>, class on <body>. */
export function applyThemeScript(name: ThemeName): string {
  const t = THEMES[name];
  return `(() => {
    const root = document.documentElement;
    for (const k of Array.from(root.style)) if (k.startsWith('--vscode-')) root.style.removeProperty(k);
    for (const [k, v] of Object.entries(${JSON.stringify(t.vars)})) root.style.setProperty(k, v);
    document.body.className = ${JSON.stringify(t.bodyClass)};
    document.body.setAttribute('data-vscode-theme-kind', ${JSON.stringify(t.bodyClass)});
  })();`;
}
