// The "unknown host key" question, with the fingerprint to compare. Only ever asked for a host that
// has no known_hosts entry: a changed key is refused by the core without asking.
import * as vscode from 'vscode';
import type { HostKeyConsent, HostKeyPrompt } from '../../core/ssh/deps';

const TRUST = 'Trust and Connect';

export function hostKeyMessage(p: HostKeyPrompt): string {
  const name = p.port === 22 ? p.host : `[${p.host}]:${p.port}`;
  return `The authenticity of host ${name} can't be established.\n\n${p.keyType} key fingerprint:\n${p.fingerprint}\n\n`
    + 'Compare it with the fingerprint the host\'s administrator gives you (on the host: '
    + `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). If you trust it, it is added to ${p.knownHostsFile}.`;
}

export const vscodeHostKeyConsent: HostKeyConsent = {
  async confirm(p: HostKeyPrompt): Promise<boolean> {
    const choice = await vscode.window.showWarningMessage(
      `Unknown SSH host key for ${p.host}`, { modal: true, detail: hostKeyMessage(p) }, TRUST);
    return choice === TRUST;
  },
};
