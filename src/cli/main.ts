// The `sltrain` command: plan runs here; launch, attach, stop and runs share the extension's core.
import { runPlan, PLAN_USAGE } from './plan';

const USAGE = `usage: sltrain <command> [options]
commands:
  plan     predict parameters and GPU memory for full-rank, low-rank, ReLoRA, GaLore and SLTrain
  launch   start a training run (this machine, --host, --nodes, or a Slurm cluster with --slurm) and follow its events
  attach   follow a run's events        stop     stop a run        runs     list runs
  report   replay a run's events into TensorBoard, W&B, MLflow or Trackio
  hosts    check an SSH host (Python, torch, CUDA, GPUs) and set up the engine there
Run "sltrain <command> --help" for the options of a command.

${PLAN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const err = (s: string): void => void process.stderr.write(`${s}\n`);
  switch (cmd) {
    case 'plan':
      return runPlan(rest, out, err);
    case 'launch':
    case 'attach':
    case 'stop':
    case 'runs':
    case 'report': {
      // Loaded lazily so `sltrain plan` starts fast and never touches process management.
      const { runRunsCommand } = await import('./runs');
      return runRunsCommand(cmd, rest);
    }
    case 'hosts': {
      const { runHostsCommand } = await import('./hosts');
      return runHostsCommand(rest);
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      err(`sltrain: unknown command "${cmd}".\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`sltrain: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
