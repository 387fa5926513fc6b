// The shell text of a Slurm run: the job script saved in the run folder, the sbatch command line, and
// the scripts the login node runs to submit, read, query and cancel. Every value is one quoted word.
import { EVENTS_FILE, LOG_FILE, STOP_REQUESTED_FILE } from '../runFiles';
import { shJoin, shQuote } from '../../ssh/quote';
import type { ClusterSpec } from '../types';
import { processesPerNode, sbatchDirective } from './cluster';

/** The job script, kept in the run folder (what `--requeue` runs again). */
export const JOB_SCRIPT = 'job.sbatch';
/** The job id sbatch answered, written once: a launch repeated with the same run id submits nothing. */
export const JOB_ID_FILE = 'slurm_job';
/** Seconds before the time limit at which Slurm sends the batch shell SIGTERM (engine checkpoints). */
export const SIGNAL_LEAD_S = 60;
/** Exit code of the submit script when the run folder cannot be made. */
export const EXIT_NO_DIR = 90;
export const EXIT_SBATCH = 91;

export interface JobParts {
  runId: string;
  runName: string;
  dir: string;
  cluster: ClusterSpec;
  /** PYTHONPATH for the engine (its copy on the cluster's shared file system). */
  engineDir: string;
  engineArgs: string[];
}

/** sbatch's arguments: the allocation and scheduling options, before the script's path. */
export function sbatchArgv(p: JobParts): string[] {
  const c = p.cluster;
  return [
    'sbatch', '--parsable', `--job-name=sltrain-${p.runId}`, `--chdir=${p.dir}`, `--output=${p.dir}/slurm-%j.out`,
    `--nodes=${c.nodes}`, '--ntasks-per-node=1', `--signal=B:TERM@${SIGNAL_LEAD_S}`,
    c.requeue === false ? '--no-requeue' : '--requeue', '--open-mode=append',
    ...(c.gpusPerNode > 0 ? [`--gpus-per-node=${c.gpusPerNode}`] : []),
    ...(c.partition ? [`--partition=${c.partition}`] : []), ...(c.account ? [`--account=${c.account}`] : []),
    ...(c.qos ? [`--qos=${c.qos}`] : []), ...(c.time ? [`--time=${c.time}`] : []),
  ];
}

/**
 * The batch script. It runs on the allocation's first node: one srun task per node starts torchrun
 * with a c10d rendezvous there, so one job spans every node. SIGTERM (scancel, or the time-limit
 * warning) reaches the engine, which checkpoints and ends "stopped"; after a time-limit or
 * preemption warning (no stop requested) the job requeues itself and the next start resumes with
 * --resume from the newest checkpoint in the same folder, appending to the same events.jsonl.
 */
export function jobScript(p: JobParts): string {
  const c = p.cluster;
  const python = c.python ?? 'python3';
  const nproc = processesPerNode(c);
  const train = [
    python, '-m', 'torch.distributed.run', '--nproc-per-node', String(nproc), '--rdzv-backend', 'c10d',
  ];
  return [
    '#!/bin/bash',
    ...(c.sbatchLines ?? []).map(sbatchDirective),
    `# SLTrain Studio run ${p.runId}, submitted from the login node with:`,
    `#   ${shJoin([...sbatchArgv(p), `${p.dir}/${JOB_SCRIPT}`])}`,
    `cd ${shQuote(p.dir)} || exit ${EXIT_NO_DIR}`,
    '# Environment set-up lines of the cluster:',
    ...(c.setupLines ?? []),
    `export PYTHONPATH=${shQuote(p.engineDir)} PYTHONUNBUFFERED=1 SLTRAIN_RUN_NAME=${shQuote(p.runName)}`,
    'first="$(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null | head -n 1)"; first="${first:-$(hostname)}"',
    `port="$(${shQuote(python)} -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')" || exit 1`,
    // A folder that already holds this run (a requeued or preempted job) continues from its checkpoint.
    'resume=(); [ -f config.json ] && resume=(--resume)',
    `echo "job $SLURM_JOB_ID start $(date -u +%FT%TZ) on $SLURM_JOB_NODELIST (restart \${SLURM_RESTART_COUNT:-0})" >> ${LOG_FILE}`,
    `srun --nodes="$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 --kill-on-bad-exit=1 ${shJoin(train)} `
      + `--nnodes="$SLURM_JOB_NUM_NODES" --rdzv-endpoint="$first:$port" --rdzv-id="$SLURM_JOB_ID" `
      + `-m sltrain.train ${shJoin([...p.engineArgs, '--out', p.dir])} "\${resume[@]}" >> ${LOG_FILE} 2>&1 &`,
    'pid=$!; term=0',
    // The steps' tasks get the SIGTERM themselves (srun would answer a SIGTERM by killing its step).
    "trap 'term=1; scancel --signal=TERM \"$SLURM_JOB_ID\" 2>/dev/null || kill -TERM $pid 2>/dev/null' TERM",
    // wait returns early when the trap runs: wait again until srun has really ended.
    'wait $pid; code=$?; while kill -0 $pid 2>/dev/null; do wait $pid; code=$?; done',
    ...(c.requeue === false ? [] : [
      `if [ $term = 1 ] && [ ! -f ${STOP_REQUESTED_FILE} ]; then`,
      '  case "$(squeue -h -j "$SLURM_JOB_ID" -o %T 2>/dev/null)" in',
      `    RUNNING|COMPLETING) echo "job $SLURM_JOB_ID requeued before its time limit" >> ${LOG_FILE}; scontrol requeue "$SLURM_JOB_ID" ;;`,
      '  esac',
      'fi',
    ]),
    'exit $code',
    '',
  ].join('\n');
}

/**
 * Writes the job script into the run folder and submits it, at most once per run id (a retried launch
 * finds the job id it already has). Prints the job id.
 */
export function submitScript(p: JobParts): string {
  const d = shQuote(p.dir);
  return [
    `mkdir -p ${d} && cd ${d} || exit ${EXIT_NO_DIR}`,
    `if [ -s ${JOB_ID_FILE} ]; then cat ${JOB_ID_FILE}; exit 0; fi`,
    'exec 9>> .launch.lock; command -v flock >/dev/null 2>&1 && flock 9',
    `if [ -s ${JOB_ID_FILE} ]; then cat ${JOB_ID_FILE}; exit 0; fi`,
    `: >> ${EVENTS_FILE}`,
    `printf '%s' ${shQuote(jobScript(p))} > ${JOB_SCRIPT}.tmp && mv ${JOB_SCRIPT}.tmp ${JOB_SCRIPT} || exit ${EXIT_NO_DIR}`,
    `J="$(${shJoin(sbatchArgv(p))} ${JOB_SCRIPT} 9>&- 2>sbatch.err)" || { cat sbatch.err >&2; exit ${EXIT_SBATCH}; }`,
    // --parsable prints `ID` or `ID;CLUSTER`.
    'J="${J%%;*}"; case "$J" in ""|*[!0-9_]*) echo "sbatch printed no job id: $J" >&2; exit 91;; esac',
    `echo "$J" > ${JOB_ID_FILE}.tmp && mv ${JOB_ID_FILE}.tmp ${JOB_ID_FILE}; echo "$J"`,
  ].join('\n');
}

/** Sections the state script prints, in order; parseJobState reads them. */
export const SECTIONS = ['@squeue', '@scontrol', '@sacct', '@files', '@events', '@log'] as const;

/** What every scheduler command that exists says about the job, then the run folder's files. */
export function stateScript(jobId: string, dir: string, logLines = 20): string {
  const j = shQuote(jobId);
  return [
    `echo @squeue; command -v squeue >/dev/null 2>&1 && squeue -h -t all -j ${j} -o '%T|%r|%S|%N' 2>/dev/null`,
    `echo @scontrol; command -v scontrol >/dev/null 2>&1 && scontrol show job -o ${j} 2>/dev/null`,
    `echo @sacct; command -v sacct >/dev/null 2>&1 && sacct -j ${j} -X -n -P -o State,ExitCode,NodeList 2>/dev/null`,
    `echo @files; cd ${shQuote(dir)} 2>/dev/null || exit 0`,
    '[ -f exit_code ] && echo "exit $(head -c 16 exit_code)"',
    `[ -f ${STOP_REQUESTED_FILE} ] && echo stop`,
    `echo @events; tail -n 5 ${EVENTS_FILE} 2>/dev/null`,
    `echo @log; tail -n ${logLines} ${LOG_FILE} 2>/dev/null; true`,
  ].join('\n');
}

/** The events file from byte `offset` to its current end (tail's +K is 1-based). */
export function readScript(dir: string, offset: number): string {
  return `cd ${shQuote(dir)} && { [ -f ${EVENTS_FILE} ] && exec tail -c +${offset + 1} ${EVENTS_FILE}; true; }`;
}

/** Marks the stop (so the job does not requeue itself) and cancels the job: SIGTERM, then KillWait. */
export function cancelScript(jobId: string, dir: string, signal?: 'KILL'): string {
  return [`cd ${shQuote(dir)} && touch ${STOP_REQUESTED_FILE}`,
    signal ? `scancel --full --signal=${signal} ${shQuote(jobId)}` : `scancel ${shQuote(jobId)}`].join('\n');
}

/** The job id recorded in a run folder, for a record saved before its launch returned. */
export function jobIdScript(dir: string): string {
  return `cat ${shQuote(dir)}/${JOB_ID_FILE} 2>/dev/null; true`;
}
