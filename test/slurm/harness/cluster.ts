// Starts the private single-node Slurm of cluster.sh for one test file and stops it afterwards. Where
// Slurm is not installed the layer skips with a message, except in CI (CI=1), where it must run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../ssh/harness/world';

// Found from the repository root, so the harness works compiled (out/test/…) and bundled (e2e) alike.
const SCRIPT = join(repoRoot(), 'test', 'slurm', 'harness', 'cluster.sh');
const BINARIES = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch'];

export interface Cluster {
  dir: string;
  /** The cluster's slurm.conf: every Slurm command needs SLURM_CONF set to it. */
  conf: string;
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm command against this cluster (for the tests' own checks and nudges). */
  slurm(cmd: string, args: string[]): string;
  stop(): void;
}

/** Why the layer cannot run here, or undefined when it can. */
export function slurmMissing(): string | undefined {
  const missing = BINARIES.filter((b) => !existsSync(b));
  if (missing.length) return `Slurm is not installed (${missing.join(', ')} missing): run scripts/setup-test-deps.sh`;
  if (process.getuid?.() !== 0) return 'the test cluster runs its daemons as root (SlurmUser=root): run the Slurm tests as root';
  return undefined;
}

/** Skip reason for node:test (`{ skip }`); in CI a missing Slurm is a failure, not a skip. */
export function skipUnlessSlurm(): string | false {
  const why = slurmMissing();
  if (why && process.env.CI) throw new Error(`CI must run the Slurm tests: ${why}`);
  if (why) process.stderr.write(`slurm tests skipped: ${why}\n`);
  return why ?? false;
}

/** Processes a failed test left running that name the cluster's temp dir are killed, and only those. */
function killLeftovers(dir: string): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

export function startCluster(): Cluster {
  const dir = mkdtempSync(join(tmpdir(), 'sltrain-slurm-'));
  const conf = execFileSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const env = { ...process.env, SLURM_CONF: conf };
  return {
    dir, conf, env,
    slurm: (cmd, args) => execFileSync(cmd, args, { env, encoding: 'utf8' }),
    stop: () => {
      try {
        execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'inherit' });
      } finally {
        killLeftovers(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
