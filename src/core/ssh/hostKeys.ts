// The ssh2 host verifier: known_hosts first, the user's consent for a host never seen, and a hard
// refusal (no consent asked) for a changed or revoked key, as OpenSSH's StrictHostKeyChecking=ask.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HostSpec } from '../runs/types';
import type { HostKeyConsent, Logger } from './deps';
import { SshError } from './errors';
import { fingerprintSha256, keyTypeOf } from './fingerprint';
import { knownHostName, knownHostsLine, parseKnownHosts, verifyHostKey } from './knownHosts';

export interface HostKeyCheck {
  verifier: (key: Buffer, verify: (ok: boolean) => void) => void;
  /** Set when the key was refused, so the connect error can say why instead of "Host denied". */
  refusal(): SshError | undefined;
}

/**
 * Consent is asked once per host and key at a time: connections opened in parallel to a host not yet
 * known (a launch's, the GPU sampler's, a status poll's) wait for the same answer instead of each
 * opening a dialog of its own, and the key is added to known_hosts once.
 */
const pendingConsent = new Map<string, Promise<boolean>>();

export function createHostKeyCheck(host: HostSpec, files: string[], consent: HostKeyConsent, logger: Logger): HostKeyCheck {
  let refused: SshError | undefined;
  const decide = async (key: Buffer): Promise<boolean> => {
    const entries = files.filter((f) => existsSync(f)).flatMap((f) => parseKnownHosts(readFileSync(f, 'utf8')));
    const verdict = verifyHostKey(entries, host.host, host.port, key);
    const name = knownHostName(host.host, host.port);
    const fp = fingerprintSha256(key);
    if (verdict.kind === 'trusted') return true;
    if (verdict.kind === 'revoked') {
      refused = new SshError('host-key-revoked', `The host key of ${name} (${fp}) is marked @revoked in known_hosts `
        + `(line ${verdict.line}). Connection refused.`);
      return false;
    }
    if (verdict.kind === 'changed') {
      refused = new SshError('host-key-changed', `WARNING: the host key of ${name} has CHANGED (now ${keyTypeOf(key)} ${fp}). `
        + 'Someone could be intercepting the connection, or the host was reinstalled. Connection refused. '
        + `If the change is expected, remove line ${verdict.line} of ${files[0]} and connect again.`);
      return false;
    }
    const asking = `${files[0]}\n${name}\n${fp}`;
    let answer = pendingConsent.get(asking);
    if (!answer) {
      answer = (async (): Promise<boolean> => {
        const ok = await consent.confirm({ host: host.host, port: host.port, keyType: keyTypeOf(key), fingerprint: fp, knownHostsFile: files[0] });
        if (ok) {
          mkdirSync(dirname(files[0]), { recursive: true, mode: 0o700 });
          appendFileSync(files[0], knownHostsLine(host.host, host.port, keyTypeOf(key), key, randomBytes(20)), { mode: 0o600 });
          logger.info(`Added ${name} (${fp}) to ${files[0]}.`);
        }
        return ok;
      })().finally(() => pendingConsent.delete(asking));
      pendingConsent.set(asking, answer);
    }
    if (!(await answer)) {
      refused = new SshError('host-key-unknown', `The host key of ${name} (${fp}) is not known and was not accepted. `
        + 'Compare the fingerprint with the one the host admin gives you, then accept it.');
      return false;
    }
    return true;
  };
  return {
    verifier: (key, verify) => {
      decide(key).then(verify, (err: unknown) => {
        refused = new SshError('host-key-unknown', `Could not verify the host key of ${host.host}: ${String(err)}`);
        verify(false);
      });
    },
    refusal: () => refused,
  };
}
