// Starts a real VS Code (code-server 4.100.3, installed by scripts/setup-code-server.sh) with our .vsix
// installed, in throwaway user-data, extension and XDG folders.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'test/.cache/code-server/node_modules/.bin/code-server');

export interface CodeServer {
  url: string;
  userDataDir: string;
  log: () => string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): void {
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
}

/** `env`: extra environment for code-server and its extension host (e.g. a throwaway HOME for ~/.ssh). */
export async function startCodeServer(vsix: string, workspace: string, settings: Record<string, unknown>,
  env: Record<string, string> = {}): Promise<CodeServer> {
  if (!existsSync(BIN)) throw new Error(`code-server is not installed: run scripts/setup-code-server.sh (looked for ${BIN})`);
  if (!existsSync(vsix)) throw new Error(`no .vsix at ${vsix}: run scripts/package-vsix.sh first`);
  const base = mkdtempSync(join(tmpdir(), 'sltrain-e2e-'));
  const userDataDir = join(base, 'user-data');
  const extensionsDir = join(base, 'extensions');
  // Nothing may be written under $HOME: code-server keeps its config and data under XDG folders.
  const childEnv = {
    ...process.env,
    ...env,
    XDG_CONFIG_HOME: join(base, 'config'),
    XDG_DATA_HOME: join(base, 'data'),
    EXTENSIONS_GALLERY: '{"serviceUrl":""}',
  };
  const install = spawnSync(BIN, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--install-extension', vsix, '--force'], { env: childEnv, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`installing the .vsix failed:\n${install.stdout}\n${install.stderr}`);
  writeUserSettings(userDataDir, settings);

  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(BIN, ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, workspace], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited early:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`,
    userDataDir,
    log: () => output,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
