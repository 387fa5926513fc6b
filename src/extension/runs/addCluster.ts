// "SLTrain: Add Slurm cluster…": the login node (this machine or an SSH host), the allocation and
// scheduling options, the environment set-up lines; checked on the login node (sbatch present, the
// partitions sinfo lists) and saved to the `sltrain.clusters` setting.
import { userInfo } from 'node:os';
import * as vscode from 'vscode';
import { clusterProblem, hostFromText, LOCAL_LOGIN, MAX_GPUS_PER_NODE, MAX_NODES } from '../../core/runs/slurm/cluster';
import { withLogin } from '../../core/runs/slurm/shell';
import type { ClusterSpec } from '../../core/runs/types';
import { sshDepsFor } from '../hosts/deps';

const TITLE = 'Add Slurm cluster';

async function ask(step: string, prompt: string, value = '', validate?: (v: string) => string | undefined): Promise<string | undefined> {
  return vscode.window.showInputBox({ title: `${TITLE}: ${step}`, prompt, value, ignoreFocusOut: true, ...(validate ? { validateInput: validate } : {}) });
}

const whole = (max: number, min: number) => (v: string): string | undefined =>
  (/^\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max ? undefined : `A whole number from ${min} to ${max}.`);

async function askCluster(): Promise<ClusterSpec | undefined> {
  const where = await vscode.window.showQuickPick([
    { label: '$(vm) This machine is the login node', id: LOCAL_LOGIN },
    { label: '$(remote) A login node over SSH…', id: 'ssh', detail: 'user@host[:port] or a Host alias from ~/.ssh/config; keys, agent and known_hosts as for GPU hosts' },
  ], { title: `${TITLE}: login node`, ignoreFocusOut: true });
  if (!where) return undefined;
  let login;
  if (where.id === 'ssh') {
    const dest = await ask('login node', 'user@host[:port] or a ~/.ssh/config alias', '',
      (v) => (hostFromText(v, userInfo().username) ? undefined : 'user@host[:port] or a Host alias'));
    if (!dest) return undefined;
    login = hostFromText(dest, userInfo().username);
  }
  const name = await ask('name', 'Name shown in SLTrain', login?.host ?? 'slurm', (v) => (v.trim() ? undefined : 'A name, e.g. the cluster\'s'));
  if (!name) return undefined;
  const optional = async (step: string, prompt: string): Promise<string | undefined | null> => {
    const v = await ask(step, `${prompt} (leave empty for the cluster's default)`);
    return v === undefined ? null : v.trim() || undefined;
  };
  const partition = await optional('partition', 'Partition (sbatch --partition)');
  if (partition === null) return undefined;
  const account = await optional('account', 'Account (sbatch --account)');
  if (account === null) return undefined;
  const qos = await optional('QoS', 'Quality of service (sbatch --qos)');
  if (qos === null) return undefined;
  const time = await ask('time limit', 'Time limit: MINUTES, HH:MM:SS or DAYS-HH:MM:SS (empty: the partition\'s default)', '',
    (v) => (v.trim() ? clusterProblem({ name: 'x', nodes: 1, gpusPerNode: 1, time: v.trim() }) : undefined));
  if (time === undefined) return undefined;
  const gpus = await ask('GPUs per node', 'GPUs per node (0 for CPU nodes); the plan\'s GPU count becomes nodes × this', '8', whole(MAX_GPUS_PER_NODE, 0));
  if (gpus === undefined) return undefined;
  const nodes = await ask('nodes', 'Nodes a run uses unless the plan asks for more GPUs', '1', whole(MAX_NODES, 1));
  if (nodes === undefined) return undefined;
  const extra = await optional('extra #SBATCH options', 'Extra sbatch options, separated by spaces (e.g. --mem=64G --constraint=h100)');
  if (extra === null) return undefined;
  const setup = await optional('environment', 'Environment set-up before the engine (e.g. module load cuda && source ~/venv/bin/activate)');
  if (setup === null) return undefined;
  const python = await optional('Python', 'Python with torch on the compute nodes (default python3)');
  if (python === null) return undefined;
  const workDir = await optional('work folder', 'Folder on the shared file system for the engine and run folders (default ~/.sltrain)');
  if (workDir === null) return undefined;
  const spec: ClusterSpec = {
    name: name.trim(), nodes: Number(nodes), gpusPerNode: Number(gpus), ...(login ? { login } : {}),
    ...(partition ? { partition } : {}), ...(account ? { account } : {}), ...(qos ? { qos } : {}), ...(time.trim() ? { time: time.trim() } : {}),
    ...(extra ? { sbatchLines: extra.split(/\s+/) } : {}), ...(setup ? { setupLines: [setup] } : {}),
    ...(python ? { python } : {}), ...(workDir ? { workDir } : {}),
  };
  const problem = clusterProblem(spec);
  if (problem) {
    void vscode.window.showErrorMessage(`${TITLE}: ${problem}`);
    return undefined;
  }
  return spec;
}

/** The setting's JSON form of a cluster (the login node as text, as a user would write it). */
function settingEntry(c: ClusterSpec): Record<string, unknown> {
  const { login, ...rest } = c;
  return { ...rest, login: login ? login.name : LOCAL_LOGIN, ...(login?.identityFile ? { identityFile: login.identityFile } : {}) };
}

export async function addClusterCommand(context: vscode.ExtensionContext): Promise<void> {
  const cluster = await askCluster();
  if (!cluster) return;
  let partitions: string;
  try {
    partitions = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checking ${cluster.name}…` },
      () => withLogin(cluster, sshDepsFor(context), async (sh) => {
        const r = await sh.exec('command -v sbatch >/dev/null 2>&1 || { echo "sbatch is not on the PATH of a non-interactive shell" >&2; exit 3; }; sinfo -h -o %P 2>&1 | head -n 20');
        if (r.code !== 0) throw new Error(`${sh.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
        return r.stdout.trim().split('\n').join(', ');
      }));
  } catch (e) {
    void vscode.window.showErrorMessage(`${TITLE}: ${(e as Error).message}`);
    return;
  }
  const config = vscode.workspace.getConfiguration('sltrain');
  const others = (config.get<Record<string, unknown>[]>('clusters') ?? []).filter((c) => c.name !== cluster.name);
  await config.update('clusters', [...others, settingEntry(cluster)], vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Added Slurm cluster ${cluster.name} (partitions: ${partitions || 'none listed'}).`);
}
