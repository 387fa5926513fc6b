// The webview host injects acquireVsCodeApi(); it may be called once per page, so it is called here only.
import type { PageToHost, PlannerPageState } from '../../src/webviewApi/protocol/planner';

export interface PlannerApi {
  postMessage(message: PageToHost): void;
  getState(): PlannerPageState | undefined;
  setState(state: PlannerPageState): void;
}

declare function acquireVsCodeApi(): PlannerApi;

export const vscodeApi: PlannerApi = acquireVsCodeApi();
