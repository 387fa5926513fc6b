// `sltrain hosts check HOST`: connect (asking about an unknown host key on the terminal), upload the
// engine and print what the host offers; `--setup-venv` installs the engine with torch there. Also
// the terminal flavour of SshDeps, for `sltrain launch --host/--nodes`.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, UsageError } from './args';
import { findProductDir } from '../core/runs/productDir';
import type { HostKeyConsent, SecretStore, SshDeps } from '../core/ssh/deps';
import { formatHostReport, setupHost } from '../core/ssh/hostSetup';
import { resolveHost } from '../core/ssh/sshConfig';

const USAGE = 'usage: sltrain hosts check HOST [--identity FILE] [--python PY] [--work-dir DIR] [--setup-venv] [--pip-args "ARGS"]\n'
  + '  HOST: a ~/.ssh/config alias or user@host[:port]';

/** Reads one line from the terminal; with `hidden`, typed characters are not echoed. */
function ask(question: string, hidden: boolean): Promise<string | undefined> {
  const { stdin, stderr } = process;
  if (!stdin.isTTY) return Promise.resolve(undefined);
  stderr.write(question);
  return new Promise((resolve) => {
    let line = '';
    stdin.setRawMode(hidden);
    stdin.resume();
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\u0003') { finish(undefined); return; } // Ctrl-C
        if (ch === '\r' || ch === '\n') { finish(line); return; }
        if (ch === '\u007f') line = line.slice(0, -1);
        else line += ch;
      }
    };
    const finish = (v: string | undefined): void => {
      stdin.removeListener('data', onData);
      if (hidden) { stdin.setRawMode(false); stderr.write('\n'); }
      stdin.pause();
      resolve(v);
    };
    stdin.on('data', onData);
  });
}

/** Terminal prompts; without a terminal, unknown host keys are refused and no secret is available. */
export const terminalConsent: HostKeyConsent = {
  async confirm(p) {
    const name = p.port === 22 ? p.host : `[${p.host}]:${p.port}`;
    const answer = await ask(`The authenticity of host '${name}' can't be established.\n${p.keyType} key fingerprint is `
      + `${p.fingerprint}.\nAdd it to ${p.knownHostsFile} and continue connecting (yes/no)? `, false);
    return answer?.trim().toLowerCase() === 'yes';
  },
};

export const terminalSecrets: SecretStore = {
  get: (key) => ask(`${key.startsWith('password:') ? 'Password' : 'Passphrase'} for ${key.slice(key.indexOf(':') + 1)}: `, true),
};

export function createCliSshDeps(engineDir: string, runsDir?: string): SshDeps {
  const log = (level: string) => (m: string): void => void process.stderr.write(`${level}${m}\n`);
  return {
    secrets: terminalSecrets, consent: terminalConsent, engineDir,
    logger: { info: log(''), warn: log('warning: '), error: log('error: ') },
    ...(runsDir ? { localRunsDir: runsDir } : {}),
  };
}

export async function runHostsCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, {
    identity: { type: 'string' }, python: { type: 'string' }, 'work-dir': { type: 'string' },
    'setup-venv': { type: 'bool' }, 'pip-args': { type: 'string' }, help: { type: 'bool' },
  });
  if (flags.get('help') === true) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (positional[0] !== 'check' || positional.length !== 2) throw new UsageError(USAGE);
  const product = findProductDir(__dirname);
  if (!product) { process.stderr.write('sltrain: cannot find the bundled engine (engine/sltrain).\n'); return 1; }
  const str = (k: string): string | undefined => (typeof flags.get(k) === 'string' ? String(flags.get(k)) : undefined);
  const identity = str('identity');
  const python = str('python');
  const workDir = str('work-dir');
  const host = resolveHost({ name: positional[1], ...(identity ? { identityFile: identity } : {}),
    ...(python ? { python } : {}), ...(workDir ? { workDir } : {}) }, homedir());
  const deps = createCliSshDeps(join(product, 'engine'));
  try {
    const venvOpt = flags.get('setup-venv') === true
      ? { createVenv: { basePython: python ?? 'python3', pipArgs: (str('pip-args') ?? '').split(/\s+/).filter(Boolean) } } : {};
    const r = await setupHost(host, deps, venvOpt);
    process.stdout.write(`${formatHostReport(host, r.report)}\n  engine: ${r.engineCopy}\n`);
    if (r.venv) process.stdout.write(`  venv:   ${r.venv.message}\n`);
    return r.report.problems.length > 0 || (r.venv && !r.venv.ok) ? 1 : 0;
  } catch (e) {
    process.stderr.write(`sltrain: ${(e as Error).message}\n`);
    return 1;
  }
}
