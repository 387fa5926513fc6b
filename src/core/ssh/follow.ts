// Follows a remote events file across dropped connections. The byte offset is advanced only by bytes
// actually handed to `onBytes`, and every (re)started tail begins exactly there, so nothing is lost or
// repeated. Reconnects start at once, back off up to 5 s, and give up after 5 minutes without a connection.
import type { HostSpec } from '../runs/types';
import { connectSsh } from './connection';
import type { SshSession } from './connection';
import type { SshDeps } from './deps';
import { isTransient } from './errors';
import { streamGpuSamples } from './gpuSamples';
import { catchUpScript, followScript, stateScript } from './remoteScripts';
import { isFinished, parseRemoteState } from './runState';

const GIVE_UP_MS = 5 * 60_000;
const SAMPLE_MS = 2000;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

export interface FollowTarget {
  host: HostSpec;
  dir: string;
  file: string;
}

/** One connection's worth of following; returns true when the job has finished and all bytes are in. */
async function followOnce(session: SshSession, t: FollowTarget, pos: { offset: number },
  onBytes: (chunk: Buffer) => void, signal: AbortSignal, deps: SshDeps): Promise<boolean> {
  // Returns the consumer's promise, if any, so the channel pauses for a slow reader.
  const take = (chunk: Buffer): void => { pos.offset += chunk.length; return onBytes(chunk); };
  const samplers = new AbortController();
  const stopSamplers = (): void => samplers.abort();
  signal.addEventListener('abort', stopSamplers, { once: true });
  const onSample = deps.samples;
  if (onSample) {
    streamGpuSamples(session, t.host.name, SAMPLE_MS, onSample, samplers.signal).catch(() => undefined);
  }
  try {
    await session.stream(followScript(t.dir, t.file, pos.offset), take, signal);
    if (signal.aborted) return true;
    const state = parseRemoteState((await session.exec(stateScript(t.dir, t.file))).stdout);
    if (!isFinished(state.status) && state.status !== 'unknown') return false;
    await session.stream(catchUpScript(t.dir, t.file, pos.offset), take, signal);
    return true;
  } finally {
    samplers.abort();
    signal.removeEventListener('abort', stopSamplers);
  }
}

export async function followRemote(t: FollowTarget, offset: number, onBytes: (chunk: Buffer) => void,
  signal: AbortSignal, deps: SshDeps): Promise<void> {
  const pos = { offset };
  let failures = 0;
  let failingSince = 0;
  while (!signal.aborted) {
    let session: SshSession | undefined;
    try {
      session = await connectSsh(t.host, deps);
      failures = 0;
      if (await followOnce(session, t, pos, onBytes, signal, deps)) return;
      await sleep(500, signal); // tail ended while the job still runs (e.g. pgid not yet written)
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (failures++ === 0) failingSince = Date.now();
      if (Date.now() - failingSince > GIVE_UP_MS) throw err;
      deps.logger.warn(`${(err as Error).message} Reconnecting (attempt ${failures})…`);
      // A single drop is retried at once; repeated failures back off 250 ms, 500 ms, … 5 s.
      await sleep(failures === 1 ? 0 : Math.min(5000, 250 * 2 ** (failures - 2)), signal);
    } finally {
      session?.end();
    }
  }
}
