// The "where to run" step of the launch flow: this machine, a host from `sltrain.hosts` or
// ~/.ssh/config, several hosts under torchrun, a Slurm cluster from `sltrain.clusters`, or "Add GPU
// host…" / "Add Slurm cluster…" (then the pick is shown again).
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import {
  describeTarget, hostAddress, hostsFromSettings, nprocProblem, sshConfigAliases, targetChoices, targetFor,
  type TargetChoice,
} from '../../core/runs/launchTargets';
import { clustersFromSettings } from '../../core/runs/slurm/cluster';
import type { HostSpec, RunTarget } from '../../core/runs/types';
import { expandIncludes } from '../../core/ssh/sshConfig';

type ChoiceItem = vscode.QuickPickItem & { choice?: TargetChoice };

/** Aliases from ~/.ssh/config (Includes followed); an unreadable config just offers none. */
function configAliases(log: (m: string) => void): string[] {
  const home = homedir();
  const file = join(home, '.ssh', 'config');
  if (!existsSync(file)) return [];
  try {
    return sshConfigAliases(expandIncludes(readFileSync(file, 'utf8'), home));
  } catch (e) {
    log(`~/.ssh/config not read: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
}

function choiceItem(c: TargetChoice): ChoiceItem {
  switch (c.kind) {
    case 'local':
      return { label: '$(vm) This machine', description: 'the engine runs here', choice: c };
    case 'host': {
      const where = [c.host.host === c.host.name ? undefined : hostAddress(c.host), c.source === 'ssh-config' ? '~/.ssh/config' : 'sltrain.hosts'];
      return { label: `$(remote) ${c.host.name}`, description: where.filter(Boolean).join(' · '), choice: c };
    }
    case 'several':
      return { label: '$(server-environment) Several hosts (torchrun)…', description: 'one node per host', choice: c };
    case 'cluster':
      return { label: `$(server-process) ${c.cluster.name}`, description: describeTarget({ kind: 'slurm', cluster: c.cluster }), choice: c };
    case 'addHost':
      return { label: '$(add) Add GPU host…', description: 'connect over SSH and check Python, PyTorch and GPUs', choice: c };
    case 'addCluster':
      return { label: '$(add) Add Slurm cluster…', description: 'submit with sbatch from a login node (sltrain.clusters)', choice: c };
  }
}

async function pickSeveral(hosts: HostSpec[], title: string): Promise<RunTarget | undefined> {
  const picked = await vscode.window.showQuickPick(
    hosts.map((h) => ({ label: h.name, description: hostAddress(h), host: h })),
    { title: `${title}: hosts for torchrun (the first one in this list is rank 0)`, canPickMany: true, ignoreFocusOut: true },
  );
  if (!picked) return undefined;
  if (picked.length < 2) {
    void vscode.window.showWarningMessage('torchrun across hosts needs at least two hosts; pick one host to run there alone.');
    return undefined;
  }
  const nproc = await vscode.window.showInputBox({
    title: `${title}: processes per node`, value: '1', prompt: 'Usually the number of GPUs on each host',
    validateInput: nprocProblem, ignoreFocusOut: true,
  });
  if (!nproc) return undefined;
  return targetFor({ kind: 'several', hosts }, picked.map((p) => p.host), nproc);
}

/** Asks where to run; undefined when the user cancels. `title` carries the step number. */
export async function pickTarget(title: string, log: (m: string) => void): Promise<RunTarget | undefined> {
  for (;;) {
    const settings = hostsFromSettings(vscode.workspace.getConfiguration('sltrain').get<unknown>('hosts'), userInfo().username, homedir());
    for (const p of settings.problems) log(p);
    if (settings.problems.length > 0) {
      void vscode.window.showWarningMessage(`Some "sltrain.hosts" entries were skipped: ${settings.problems.join(' ')}`);
    }
    const clusters = clustersFromSettings(vscode.workspace.getConfiguration('sltrain').get<unknown>('clusters'), userInfo().username);
    for (const p of clusters.problems) log(p);
    if (clusters.problems.length > 0) {
      void vscode.window.showWarningMessage(`Some "sltrain.clusters" entries were skipped: ${clusters.problems.join(' ')}`);
    }
    const items = [...targetChoices(settings.hosts, configAliases(log), userInfo().username, clusters.clusters),
      { kind: 'addCluster' as const }].map(choiceItem);
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Where the engine runs', ignoreFocusOut: true });
    const choice = pick?.choice;
    if (!choice) return undefined;
    if (choice.kind === 'addHost') {
      // Saves the host to the settings on success; either way the updated list is offered again.
      await vscode.commands.executeCommand('sltrain.addHost');
      continue;
    }
    if (choice.kind === 'addCluster') {
      await vscode.commands.executeCommand('sltrain.addCluster');
      continue;
    }
    const target = choice.kind === 'several' ? await pickSeveral(choice.hosts, title) : targetFor(choice);
    if (target) log(`target: ${describeTarget(target)}`);
    return target;
  }
}
