// SshDeps for the extension: SecretStorage, a modal consent dialog and an output channel. The run
// features call sshDepsFor() to build the SSH and multi-node backends.
import * as vscode from 'vscode';
import type { GpuSample, Logger, SshDeps } from '../../core/ssh/deps';
import { vscodeHostKeyConsent } from './consent';
import { VsCodeSecretStore } from './secretStore';

let channel: vscode.LogOutputChannel | undefined;

export function sshLog(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('SLTrain SSH', { log: true });
  return channel;
}

function channelLogger(out: vscode.LogOutputChannel): Logger {
  return { info: (m) => out.info(m), warn: (m) => out.warn(m), error: (m) => out.error(m) };
}

export function sshDepsFor(context: vscode.ExtensionContext, samples?: (s: GpuSample) => void): SshDeps {
  return {
    secrets: new VsCodeSecretStore(context.secrets, true),
    consent: vscodeHostKeyConsent,
    logger: channelLogger(sshLog()),
    engineDir: vscode.Uri.joinPath(context.extensionUri, 'engine').fsPath,
    ...(samples ? { samples } : {}),
  };
}
