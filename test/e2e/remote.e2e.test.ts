// End to end in a real VS Code (code-server) against a real sshd on 127.0.0.1: the host comes from the
// `sltrain.hosts` setting, its unknown host key is accepted in the editor's consent dialog, llama_tiny
// is launched there from the palette, the run view fills with loss points and the (stand-in)
// nvidia-smi readings, and Stop in the view kills the remote process group: "stopped" in the view and
// in the Runs tree. On the way, the SSH link is cut and the window reloaded: the view keeps every
// point exactly once. The "remote" is this machine, logged into over SSH, with the engine's venv.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { groupAlive, makeWorld, remotePython, USER, type World } from '../ssh/harness/world';
import { ROOT, startCodeServer, type CodeServer } from './codeServer';
import * as wb from './workbench';

const RESULTS = resolve(ROOT, 'test/results');
const VSIX = process.env.SLTRAIN_VSIX ?? resolve(ROOT, 'out/e2e/sltrain-studio.vsix');
const HOST = 'gpu-box';
const NODE_B = 'node-b';

let world: World;
let server: CodeServer;
let browser: Browser;
let page: Page;
let workspace: string;

const workDir = (i = 0): string => join(world.dir, `work${i}`);
const runsDir = (): string => join(workspace, '.sltrain', 'runs');

before(async () => {
  // Two sshd (two "hosts"), each with a stand-in nvidia-smi on the sessions' PATH; the client key logs in as this user.
  world = await makeWorld(2, true);
  // The editor has never seen this host: its key must be accepted in the UI.
  writeFileSync(world.knownHosts, '');
  workspace = mkdtempSync(join(tmpdir(), 'sltrain-remote-ws-'));
  server = await startCodeServer(VSIX, workspace, {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'sltrain.engineLocation': join(ROOT, 'engine'),
    'sltrain.hosts': [HOST, NODE_B].map((name, i) => ({
      name, host: '127.0.0.1', port: world.servers[i].port, user: USER,
      identityFile: world.clientKey, python: remotePython(), workDir: workDir(i),
    })),
  }, { HOME: world.home }); // ~/.ssh (known_hosts, config) of the editor is the world's throwaway home
  ({ browser, page } = await wb.openWorkbench(server.url));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await world?.close(); // kills any job still naming the world's folder (the run dir, the engine copy)
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

const viewState = (): ReturnType<typeof wb.viewState> => wb.viewState(page);

/** The Runs tree row of the run (label, status, step, host). */
async function treeRow(): Promise<string> {
  return (await page.locator('.part.sidebar .monaco-list-row', { hasText: HOST }).first().textContent()) ?? '';
}

interface Record { id: string; dir: string; pgid: number; status: string; target: { kind: string } }

function record(kind: 'ssh' | 'multinode'): Record {
  const all = readdirSync(runsDir()).map((id) => JSON.parse(readFileSync(join(runsDir(), id, 'run.json'), 'utf8')) as Record);
  const found = all.find((r) => r.target.kind === kind);
  if (!found) throw new Error(`no ${kind} run in ${runsDir()}`);
  return found;
}

test('launch on an SSH host from the palette, watch, stop', { timeout: 240_000 }, async (t) => {
  mkdirSync(RESULTS, { recursive: true });

  await t.test('launch: pick the host, accept its key in the dialog, the run view follows', async () => {
    await wb.runCommand(page, 'Launch SLTrain run');
    await wb.answer(page, '(1/5)', 'llama_tiny');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: HOST }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(RESULTS, 'e2e-remote-target.png') });
    // "Add GPU host…" runs that command; cancelling it comes back to the same pick.
    await wb.answer(page, '(2/5)', 'Add GPU host');
    await page.locator('.quick-input-title', { hasText: 'Add GPU host (1/3)' }).waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');
    await wb.answer(page, '(2/5)', HOST);
    // Long enough to be stopped mid-run however fast this machine is; the test stops it after a few steps.
    await wb.answer(page, '(3/5)', '3000');
    await wb.answer(page, '(4/5)', 'embedded');
    await wb.pickMany(page, 'Report to trackers', []);
    const confirm = page.locator('.monaco-dialog-box', { hasText: `Launch on ${HOST}` });
    await confirm.waitFor({ timeout: 30_000 });
    await wb.clickButton(page, '.monaco-dialog-box', 'Launch');

    const consent = page.locator('.monaco-dialog-box', { hasText: 'Unknown SSH host key for 127.0.0.1' });
    await consent.waitFor({ timeout: 60_000 });
    assert.match((await consent.textContent()) ?? '', /SHA256:[A-Za-z0-9+/]{43}/);
    await page.screenshot({ path: join(RESULTS, 'e2e-remote-consent.png') });
    await wb.clickButton(page, '.monaco-dialog-box', 'Trust and Connect');

    const s = await wb.waitFor(page, viewState, (v) => v.status === 'running' && v.lastStep >= 3 && v.points >= v.lastStep, 'the first remote steps in the run view', 150_000);
    assert.equal(s.points, s.lastStep, 'one point per step: none lost, none repeated');
    // The accepted key is remembered in known_hosts (hashed name, as OpenSSH's HashKnownHosts writes it).
    const hostKey = readFileSync(`${world.servers[0].hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    assert.ok(readFileSync(world.knownHosts, 'utf8').includes(` ${hostKey}`), 'host key added to known_hosts');
    const r = record('ssh');
    assert.equal(r.target.kind, 'ssh');
    assert.ok(r.dir.startsWith(workDir()), `the run directory is on the host's work dir: ${r.dir}`);
    assert.ok(groupAlive(r.pgid));
    // nvidia-smi (a stand-in that reports one H200) is sampled while the run is followed.
    const gpu = await wb.waitFor(page, async () => (await (await wb.runView(page)).locator('.run .gpu').first().textContent()) ?? '',
      (g) => g.includes('GPU0'), 'GPU readings in the run view', 30_000);
    assert.match(gpu, new RegExp(`${HOST} GPU0 87% · 40\\.0/140\\.4 GiB`));
    await page.screenshot({ path: join(RESULTS, 'e2e-remote-running.png') });
  });

  await t.test('the Runs tree lists the remote run with its host', async () => {
    await wb.runCommand(page, 'Focus on Runs View');
    const row = await wb.waitFor(page, treeRow, (text) => /running/.test(text), 'the run in the Runs tree', 30_000);
    assert.match(row, /llama_tiny/);
  });

  await t.test('dropped connection: the follower reconnects, no point lost or repeated', async () => {
    const before = await viewState();
    assert.ok(world.servers[0].killConnections() > 0, 'the run view was following over a live connection');
    const after = await wb.waitFor(page, viewState, (v) => v.lastStep >= before.lastStep + 2 && v.points >= v.lastStep, 'steps after the dropped link', 90_000);
    assert.equal(after.status, 'running');
    assert.equal(after.points, after.lastStep);
  });

  await t.test('window reload: the remote run keeps going and the view reattaches', async () => {
    await wb.reloadAndExpectReattach(page);
    // The key is known now: reconnecting asks nothing.
    assert.equal(await page.locator('.monaco-dialog-box').count(), 0);
  });

  await t.test('stop from the run view: the remote process group is gone, "stopped" everywhere', async () => {
    await (await wb.runView(page)).locator('.run button.stop').click();
    await wb.clickButton(page, '.monaco-dialog-box', 'Stop', 30_000);
    const s = await wb.waitFor(page, viewState, (v) => v.status === 'stopped', 'the stopped status', 120_000);
    assert.equal(s.points, s.lastStep);
    await wb.waitFor(page, treeRow, (text) => /stopped/.test(text), '"stopped" in the Runs tree', 30_000);
    // The stop command reports once the host says the process group is gone.
    await page.locator('.notifications-toasts', { hasText: 'stopped.' }).waitFor({ timeout: 90_000 });
    const r = record('ssh');
    assert.equal(r.status, 'stopped');
    assert.equal(groupAlive(r.pgid), false, 'no process of the run is left on the host');
    assert.ok(existsSync(join(r.dir, 'stop_requested')));
    const events = readFileSync(join(r.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; status?: string });
    assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'end', status: 'stopped' });
    await page.screenshot({ path: join(RESULTS, 'e2e-remote-stopped.png') });
  });

  await t.test('several hosts: torchrun on two nodes from the multi-select, stop ends both', async () => {
    await wb.runCommand(page, 'Launch SLTrain run');
    await wb.answer(page, '(1/5)', 'llama_tiny');
    await wb.answer(page, '(2/5)', 'Several hosts');
    await page.locator('.quick-input-title', { hasText: 'hosts for torchrun' }).waitFor({ timeout: 30_000 });
    await page.locator('.quick-input-widget [role="checkbox"][aria-label="Toggle all checkboxes"]').click();
    await page.keyboard.press('Enter');
    await wb.answer(page, 'processes per node', '1');
    await wb.answer(page, '(3/5)', '3000');
    await wb.answer(page, '(4/5)', 'embedded');
    await wb.pickMany(page, 'Report to trackers', []);
    await page.locator('.monaco-dialog-box', { hasText: `Launch on 2 hosts with torchrun (${HOST}, ${NODE_B})` }).waitFor({ timeout: 30_000 });
    await wb.clickButton(page, '.monaco-dialog-box', 'Launch');
    // gpu-box is known since the first launch; node-b has a key of its own to accept.
    await page.locator('.monaco-dialog-box', { hasText: 'Unknown SSH host key' }).waitFor({ timeout: 60_000 });
    await wb.clickButton(page, '.monaco-dialog-box', 'Trust and Connect');

    const s = await wb.waitFor(page, viewState, (v) => v.status === 'running' && v.lastStep >= 2, 'torchrun steps in the run view', 150_000);
    assert.equal(s.points, s.lastStep);
    const gpu = await wb.waitFor(page, async () => (await (await wb.runView(page)).locator('.run .gpu').first().textContent()) ?? '',
      (g) => g.includes(HOST) && g.includes(NODE_B), 'GPU readings of both nodes', 30_000);
    assert.match(gpu, new RegExp(`${HOST} GPU0 .* ${NODE_B} GPU0`));
    await page.screenshot({ path: join(RESULTS, 'e2e-remote-torchrun.png') });

    const r = record('multinode');
    const nodePgid = (i: number): number => Number(readFileSync(join(workDir(i), 'runs', r.id, `node${i}`, 'pgid'), 'utf8'));
    assert.ok(groupAlive(nodePgid(0)) && groupAlive(nodePgid(1)), 'one torchrun per node');
    await (await wb.runView(page)).locator('.run button.stop').click();
    await wb.clickButton(page, '.monaco-dialog-box', 'Stop', 30_000);
    await wb.waitFor(page, viewState, (v) => v.status === 'stopped', 'the stopped torchrun run', 120_000);
    await wb.waitFor(page, async () => groupAlive(nodePgid(0)) || groupAlive(nodePgid(1)), (alive) => !alive, 'both nodes gone', 60_000);
  });
});
