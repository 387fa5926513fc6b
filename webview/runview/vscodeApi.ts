// acquireVsCodeApi() may be called once per page: this module is the only caller.
import type { RunViewToHost } from '../../src/webviewApi/protocol/runview';

/** What the page persists across hide/reload: the runs shown and the view options (not the points). */
export interface RunViewState {
  runIds: string[];
  logScale: boolean;
  smoothing: number;
}

export interface RunViewApi {
  postMessage(message: RunViewToHost): void;
  getState(): RunViewState | undefined;
  setState(state: RunViewState): void;
}

declare function acquireVsCodeApi(): RunViewApi;

export const vscodeApi: RunViewApi = acquireVsCodeApi();
