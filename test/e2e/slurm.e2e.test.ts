// End to end in a real VS Code (code-server) against the Slurm layer's real single-node cluster:
// "Add Slurm cluster…" saves this machine as the login node, the cluster is picked in the launch flow,
// the confirm dialog shows the job script, the run view follows the job's events and the Runs tree
// shows the cluster, and Stop in the view cancels the job: "stopped", with the job CANCELLED.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { remotePython } from '../ssh/harness/world';
import { skipUnlessSlurm, startCluster, type Cluster } from '../slurm/harness/cluster';
import { ROOT, startCodeServer, type CodeServer } from './codeServer';
import * as wb from './workbench';

const RESULTS = resolve(ROOT, 'test/results');
const VSIX = process.env.SLTRAIN_VSIX ?? resolve(ROOT, 'out/e2e/sltrain-studio.vsix');
const CLUSTER = 'testcluster';
const skip = skipUnlessSlurm();

let c: Cluster;
let server: CodeServer;
let browser: Browser;
let page: Page;
let workspace: string;

before(async () => {
  if (skip) return;
  c = startCluster();
  workspace = mkdtempSync(join(tmpdir(), 'sltrain-slurm-ws-'));
  server = await startCodeServer(VSIX, workspace, {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'sltrain.engineLocation': join(ROOT, 'engine'),
  }, { SLURM_CONF: c.conf }); // the login node's Slurm commands find this cluster, as on a real one
  ({ browser, page } = await wb.openWorkbench(server.url));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  c?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

interface Rec { id: string; dir: string; status: string; scheduler?: { jobId: string }; target: { kind: string } }

function record(): Rec {
  const dir = join(workspace, '.sltrain', 'runs');
  const found = readdirSync(dir).map((id) => JSON.parse(readFileSync(join(dir, id, 'run.json'), 'utf8')) as Rec).find((r) => r.target.kind === 'slurm');
  if (!found) throw new Error(`no Slurm run in ${dir}`);
  return found;
}

const step = (s: string): string => `Add Slurm cluster: ${s}`;

test('add a Slurm cluster, launch on it from the palette, watch, stop', { skip, timeout: 300_000 }, async (t) => {
  mkdirSync(RESULTS, { recursive: true });
  const work = join(c.dir, 'shared');

  await t.test('Add Slurm cluster… saves this machine as the login node', async () => {
    await wb.runCommand(page, 'Add Slurm cluster');
    await wb.answer(page, step('login node'), 'This machine is the login node');
    await wb.answer(page, step('name'), CLUSTER);
    for (const s of ['partition', 'account', 'QoS', 'time limit']) await wb.answer(page, step(s), '');
    await wb.answer(page, step('GPUs per node'), '0');
    await wb.answer(page, step('nodes'), '1');
    await wb.answer(page, step('extra #SBATCH options'), '');
    await wb.answer(page, step('environment'), '');
    await wb.answer(page, step('Python'), remotePython());
    await wb.answer(page, step('work folder'), work);
    await page.locator('.notifications-toasts', { hasText: `Added Slurm cluster ${CLUSTER} (partitions: debug` }).waitFor({ timeout: 60_000 });
  });

  await t.test('launch: the cluster in the target pick, the job script in the confirm dialog, the run view follows', async () => {
    await wb.runCommand(page, 'Launch SLTrain run');
    await wb.answer(page, '(1/5)', 'llama_tiny');
    await wb.answer(page, '(2/5)', CLUSTER);
    await wb.answer(page, '(3/5)', '3000');
    await wb.answer(page, '(4/5)', 'embedded');
    await wb.pickMany(page, 'Report to trackers', []);
    const confirm = page.locator('.monaco-dialog-box', { hasText: `Launch on Slurm cluster ${CLUSTER}` });
    await confirm.waitFor({ timeout: 30_000 });
    assert.match((await confirm.textContent()) ?? '', /Job script .*sbatch --parsable .*srun .*torch\.distributed\.run/s);
    await page.screenshot({ path: join(RESULTS, 'e2e-slurm-confirm.png') });
    await wb.clickButton(page, '.monaco-dialog-box', 'Launch');
    const s = await wb.waitFor(page, () => wb.viewState(page), (v) => v.status === 'running' && v.lastStep >= 2 && v.points >= v.lastStep,
      'the first steps of the Slurm job in the run view', 200_000);
    assert.equal(s.points, s.lastStep, 'one point per step');
    const r = record();
    assert.ok(r.dir.startsWith(work), r.dir);
    assert.match(c.slurm('squeue', ['-h', '-j', r.scheduler!.jobId, '-o', '%T']), /RUNNING/);
    await wb.runCommand(page, 'Focus on Runs View');
    const row = await wb.waitFor(page, async () => (await page.locator('.part.sidebar .monaco-list-row', { hasText: 'llama_tiny' }).first().textContent()) ?? '',
      (text) => text.includes(`slurm:${CLUSTER}`), 'the run with its cluster in the Runs tree', 30_000);
    assert.match(row, /running/);
    await page.screenshot({ path: join(RESULTS, 'e2e-slurm-running.png') });
  });

  await t.test('stop from the run view: scancel, the engine checkpoints, "stopped"', async () => {
    await (await wb.runView(page)).locator('.run button.stop').click();
    await wb.clickButton(page, '.monaco-dialog-box', 'Stop', 30_000);
    const s = await wb.waitFor(page, () => wb.viewState(page), (v) => v.status === 'stopped', 'the stopped status', 120_000);
    assert.equal(s.points, s.lastStep);
    const r = record();
    // The engine's end event reaches the view while Slurm still cleans the job up (COMPLETING).
    await wb.waitFor(page, async () => c.slurm('squeue', ['-h', '-t', 'all', '-j', r.scheduler!.jobId, '-o', '%T']).trim(),
      (st) => st === 'CANCELLED', 'the job CANCELLED', 60_000);
    assert.match(readFileSync(join(r.dir, 'events.jsonl'), 'utf8'), /"event": "checkpoint"/);
    await page.screenshot({ path: join(RESULTS, 'e2e-slurm-stopped.png') });
  });
});
