// Uploads the engine over sftp into a temporary folder and renames it into place, so a half-finished
// upload (dropped connection) is never mistaken for a complete engine copy.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { SshSession } from './connection';
import type { Logger } from './deps';
import { SshError } from './errors';
import { engineHash, listEngineFiles } from './engineBundle';
import { shQuote } from './quote';

function sftpCall(fn: (cb: (err: Error | null | undefined) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

async function mkdirs(sftp: SFTPWrapper, dirs: string[]): Promise<void> {
  for (const d of dirs) await sftpCall((cb) => sftp.mkdir(d, cb));
}

/** Returns the absolute remote engine directory (to put on PYTHONPATH or `pip install`). */
export async function ensureEngine(session: SshSession, engineDir: string, workDir: string, logger: Logger): Promise<string> {
  const files = listEngineFiles(engineDir);
  const target = posix.join(workDir, `engine-${engineHash(files)}`);
  const probe = await session.exec(`test -f ${shQuote(target)}/.complete && echo present; true`);
  if (probe.stdout.trim() === 'present') return target;

  const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
  const mk = await session.exec(`mkdir -p ${shQuote(tmp)} && echo ok`);
  if (mk.stdout.trim() !== 'ok') throw new SshError('remote', `Cannot create ${tmp} on ${session.where}: ${mk.stderr.trim()}`);
  logger.info(`Uploading the engine (${files.length} files) to ${session.where}:${target}`);
  const sftp = await session.sftp();
  try {
    const dirs = [...new Set(files.map((f) => posix.dirname(f.rel)).filter((d) => d !== '.'))]
      .flatMap((d) => d.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')));
    await mkdirs(sftp, [...new Set(dirs)].sort().map((d) => posix.join(tmp, d)));
    for (const f of files) {
      const data = readFileSync(f.abs);
      await sftpCall((cb) => sftp.writeFile(posix.join(tmp, f.rel), data, cb));
    }
  } finally {
    sftp.end();
  }
  // Another client may have finished the same upload meanwhile: keep theirs, drop ours.
  const done = await session.exec(`touch ${shQuote(tmp)}/.complete && { mv -T ${shQuote(tmp)} ${shQuote(target)} 2>/dev/null `
    + `|| rm -rf ${shQuote(tmp)}; } && test -f ${shQuote(target)}/.complete && echo ok`);
  if (done.stdout.trim() !== 'ok') throw new SshError('remote', `Engine upload to ${session.where} failed: ${done.stderr.trim()}`);
  return target;
}
