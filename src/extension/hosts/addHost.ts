// "SLTrain: Add GPU host": ask for the destination and how to log in, connect (host key consent),
// upload the engine, report Python/torch/CUDA/GPUs, offer the engine venv, then save the host to the
// `sltrain.hosts` setting. Secrets go to SecretStorage only.
import { userInfo } from 'node:os';
import * as vscode from 'vscode';
import { passwordKey } from '../../core/ssh/auth';
import { formatHostReport, setupHost } from '../../core/ssh/hostSetup';
import type { HostSetupResult } from '../../core/ssh/hostSetup';
import { parseDestination } from '../../core/ssh/sshConfig';
import type { HostSpec } from '../../core/runs/types';
import { sshDepsFor, sshLog } from './deps';
import { VsCodeSecretStore } from './secretStore';

interface HostSetting { name: string; host: string; port?: number; user?: string; identityFile?: string; python?: string; workDir?: string }

async function askHost(context: vscode.ExtensionContext): Promise<HostSpec | undefined> {
  const dest = await vscode.window.showInputBox({
    title: 'Add GPU host (1/3)', prompt: 'user@host[:port] or a Host alias from ~/.ssh/config', ignoreFocusOut: true,
    validateInput: (v) => { try { parseDestination(v.trim()); return undefined; } catch (e) { return (e as Error).message; } },
  });
  if (!dest) return undefined;
  const d = parseDestination(dest.trim());
  const name = await vscode.window.showInputBox({ title: 'Add GPU host (2/3)', prompt: 'Name shown in SLTrain', value: d.host, ignoreFocusOut: true });
  if (!name) return undefined;
  const host: HostSpec = { name, host: d.host, port: d.port ?? 22, user: d.user ?? userInfo().username };
  const auth = await vscode.window.showQuickPick([
    { label: 'ssh-agent / ~/.ssh/config', id: 'agent' },
    { label: 'Key file…', id: 'key', detail: 'A passphrase, if any, is asked on connect and kept in the keychain.' },
    { label: 'Password', id: 'password', detail: 'Kept in the keychain (VS Code SecretStorage).' },
  ], { title: 'Add GPU host (3/3): log in with', ignoreFocusOut: true });
  if (!auth) return undefined;
  if (auth.id === 'key') {
    const file = await vscode.window.showOpenDialog({ title: 'Private key', canSelectMany: false,
      defaultUri: vscode.Uri.file(`${userInfo().homedir}/.ssh`) });
    if (!file) return undefined;
    host.identityFile = file[0].fsPath;
  } else if (auth.id === 'password') {
    const pw = await vscode.window.showInputBox({ title: `SSH password for ${host.user}@${host.host}`, password: true, ignoreFocusOut: true });
    if (!pw) return undefined;
    await new VsCodeSecretStore(context.secrets, false).store(passwordKey(host), pw);
  }
  return host;
}

async function run(title: string, fn: () => Promise<HostSetupResult>): Promise<HostSetupResult | undefined> {
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, fn);
  } catch (e) {
    void vscode.window.showErrorMessage((e as Error).message);
    return undefined;
  }
}

async function saveHost(host: HostSpec, python: string | undefined): Promise<void> {
  const config = vscode.workspace.getConfiguration('sltrain');
  const hosts = (config.get<HostSetting[]>('hosts') ?? []).filter((h) => h.name !== host.name);
  const entry: HostSetting = { name: host.name, host: host.host, port: host.port, user: host.user,
    ...(host.identityFile ? { identityFile: host.identityFile } : {}), ...(python ? { python } : {}) };
  await config.update('hosts', [...hosts, entry], vscode.ConfigurationTarget.Global);
}

export async function addHostCommand(context: vscode.ExtensionContext): Promise<void> {
  const host = await askHost(context);
  if (!host) return;
  const deps = sshDepsFor(context);
  const out = sshLog();
  let result = await run(`Connecting to ${host.name}…`, () => setupHost(host, deps));
  if (!result) return;
  out.info(formatHostReport(host, result.report));
  if (result.report.problems.length > 0) {
    const create = 'Create engine venv (pip install)';
    const pick = await vscode.window.showWarningMessage(`${host.name}: ${result.report.problems.join(' ')}`,
      { modal: true, detail: `Creates ${result.workDir}/venv and installs the engine with torch there (needs internet or a pip mirror on the host).` }, create);
    if (pick !== create) return;
    const base = result.report.pythonVersion ? result.report.python : 'python3';
    result = await run(`Installing the engine on ${host.name}…`, () => setupHost(host, deps, { createVenv: { basePython: base, pipArgs: [] } }));
    if (!result) return;
    if (result.venv && !result.venv.ok) {
      out.error(result.venv.message);
      void vscode.window.showErrorMessage(result.venv.message);
      return;
    }
    out.info(formatHostReport(host, result.report));
  }
  await saveHost(host, result.venv?.ok ? result.venv.python : undefined);
  const r = result.report;
  const gpus = r.gpus.length ? `${r.gpus.length}× ${r.gpus[0].name}` : 'no GPU';
  void vscode.window.showInformationMessage(`Added ${host.name}: Python ${r.pythonVersion}, torch ${r.torchVersion}, ${gpus}.`);
}
