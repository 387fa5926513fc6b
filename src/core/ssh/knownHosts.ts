// known_hosts parsing and verification (ssh2 accepts any key unless we check it ourselves).
// Format per sshd(8): `[@marker] hostpatterns keytype base64key [comment]`.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type KnownHostMarker = 'revoked' | 'cert-authority' | undefined;

export interface KnownHostEntry {
  marker: KnownHostMarker;
  /** Comma-separated patterns, or one hashed name `|1|salt|hmac`. */
  hosts: string;
  keyType: string;
  key: Buffer;
  line: number;
}

export type HostKeyVerdict =
  | { kind: 'trusted'; line: number }
  | { kind: 'unknown' }
  | { kind: 'changed'; line: number; knownType: string }
  | { kind: 'revoked'; line: number };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostMarker;
    if (fields[0].startsWith('@')) {
      const m = fields.shift()?.slice(1);
      if (m !== 'revoked' && m !== 'cert-authority') return; // unknown marker: OpenSSH skips the line
      marker = m;
    }
    if (fields.length < 3) return;
    const key = Buffer.from(fields[2], 'base64');
    if (key.length === 0) return;
    entries.push({ marker, hosts: fields[0], keyType: fields[1], key, line: i + 1 });
  });
  return entries;
}

/** The name OpenSSH looks up: plain host on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

function hashedMatch(hashed: string, name: string): boolean {
  const parts = hashed.split('|'); // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** A negated pattern that matches vetoes the whole line, as in OpenSSH's match_hostname. */
export function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|')) return hashedMatch(hosts, name);
  let positive = false;
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) {
      positive = true;
    }
  }
  return positive;
}

/**
 * Revoked wins over everything; otherwise any plain entry with the same blob is trusted. A host that
 * has entries but none with this key has changed its key. Certificate authorities are not used: the
 * key presented is a plain key, so @cert-authority lines neither trust nor contradict it.
 */
export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  const matching = entries.filter((e) => hostsFieldMatches(e.hosts, name));
  const revoked = matching.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = matching.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { kind: 'trusted', line: same.line };
  if (plain.length > 0) return { kind: 'changed', line: plain[0].line, knownType: plain[0].keyType };
  return { kind: 'unknown' };
}

/** The line appended after consent; hashed like `HashKnownHosts yes` so the file does not list hosts. */
export function knownHostsLine(host: string, port: number, keyType: string, key: Buffer, salt: Buffer): string {
  const name = knownHostName(host, port);
  const hmac = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hmac} ${keyType} ${key.toString('base64')}\n`;
}
