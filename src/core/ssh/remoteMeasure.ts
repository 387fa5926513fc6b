// "Measure here" on a GPU host: the engine copy there (uploaded by content hash as for a launch)
// measures the plan's step event by event (`python -m sltrain.measure --json --timeline`) and the JSON
// comes back. The run file travels inside the command (base64), so nothing is left on the host.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { HostSpec } from '../runs/types';
import type { SshDeps } from './deps';
import { SshError } from './errors';
import { prepareHost } from './hostSession';
import { shQuote } from './quote';
import { withSession } from './runHelpers';

/** The measure command for `run` on a prepared host: writes the run file, measures, removes it. */
export function remoteMeasureScript(python: string, engineCopy: string, workDir: string, run: object): string {
  const file = posix.join(workDir, `measure-${randomBytes(6).toString('hex')}.json`);
  const b64 = Buffer.from(JSON.stringify(run)).toString('base64');
  return [
    `printf %s ${shQuote(b64)} | base64 -d > ${shQuote(file)} || exit 90`,
    `cd ${shQuote(engineCopy)} && PYTHONPATH=${shQuote(engineCopy)} ${shQuote(python)} -m sltrain.measure --json --timeline --config ${shQuote(file)}`,
    'rc=$?',
    `rm -f ${shQuote(file)}`,
    'exit $rc',
  ].join('\n');
}

/** The engine's measure JSON from `host`; SshError with the engine's own reason when it refused. */
export async function measureOnHost(host: HostSpec, deps: SshDeps, run: object): Promise<unknown> {
  return withSession(host, deps, async (s) => {
    const prepared = await prepareHost(s, host, deps, new Map());
    const r = await s.exec(remoteMeasureScript(prepared.python, prepared.engineCopy, prepared.workDir, run));
    if (r.code === undefined) throw new SshError('dropped', `Connection to ${s.where} dropped while measuring.`);
    if (r.code !== 0) {
      const why = r.stderr.trim().split('\n').filter(Boolean).at(-1)?.replace(/^error: /, '') ?? `exit ${r.code}`;
      throw new SshError('remote', `${host.name}: ${why}`);
    }
    try {
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as unknown;
    } catch {
      throw new SshError('remote', `${host.name}: the engine printed no JSON: ${r.stdout.trim().slice(-300)}`);
    }
  });
}
