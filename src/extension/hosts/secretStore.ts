// SecretStore on VS Code's SecretStorage (the OS keychain). A secret that is missing is asked for once
// in a password box and kept; it never goes to settings, logs or run events.
import * as vscode from 'vscode';
import type { SecretStore } from '../../core/ssh/deps';

const PREFIX = 'sltrain.ssh.';

function describe(key: string): string {
  if (key.startsWith('passphrase:')) return `Passphrase for the SSH key ${key.slice('passphrase:'.length)}`;
  if (key.startsWith('password:')) return `SSH password for ${key.slice('password:'.length)}`;
  return key;
}

export class VsCodeSecretStore implements SecretStore {
  constructor(private readonly secrets: vscode.SecretStorage, private readonly interactive: boolean) {}

  async get(key: string): Promise<string | undefined> {
    const stored = await this.secrets.get(PREFIX + key);
    if (stored !== undefined || !this.interactive) return stored;
    const value = await vscode.window.showInputBox({
      title: describe(key), prompt: 'Stored in the system keychain (VS Code SecretStorage), never in settings.',
      password: true, ignoreFocusOut: true,
    });
    if (value === undefined || value === '') return undefined;
    await this.secrets.store(PREFIX + key, value);
    return value;
  }

  store(key: string, value: string): Thenable<void> {
    return this.secrets.store(PREFIX + key, value);
  }

  delete(key: string): Thenable<void> {
    return this.secrets.delete(PREFIX + key);
  }
}
