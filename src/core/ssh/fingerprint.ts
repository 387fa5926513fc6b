import { createHash } from 'node:crypto';

/** OpenSSH's `SHA256:` fingerprint of a public key blob: unpadded base64 of its sha256. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type is the first SSH string inside the blob (uint32 length + bytes). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len > keyBlob.length - 4 || len > 64) return 'unknown';
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}
