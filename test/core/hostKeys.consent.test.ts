// Parallel connections to a host not yet in known_hosts (a launch, the GPU sampler, a status poll) ask
// the user once and share the answer; the key is added to known_hosts once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHostKeyCheck } from '../../src/core/ssh/hostKeys';
import type { HostSpec } from '../../src/core/runs/types';

function ed25519Blob(): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(type.length);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(32);
  return Buffer.concat([head, type, len, randomBytes(32)]);
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const host: HostSpec = { name: 'node-b', host: '127.0.0.1', port: 2222, user: 'me' };

function verify(check: ReturnType<typeof createHostKeyCheck>, key: Buffer): Promise<boolean> {
  return new Promise((resolve) => check.verifier(key, resolve));
}

for (const accept of [true, false]) {
  test(`two connections to a new host: one dialog, the same answer (${accept ? 'trusted' : 'refused'})`, async () => {
    const knownHosts = join(mkdtempSync(join(tmpdir(), 'sltrain-kh-')), 'known_hosts');
    let asked = 0;
    let answer: (ok: boolean) => void = () => undefined;
    const consent = { confirm: () => { asked++; return new Promise<boolean>((r) => { answer = r; }); } };
    const key = ed25519Blob();
    const a = createHostKeyCheck(host, [knownHosts], consent, silent);
    const b = createHostKeyCheck(host, [knownHosts], consent, silent);
    const both = Promise.all([verify(a, key), verify(b, key)]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(asked, 1, 'the second connection waits for the first dialog');
    answer(accept);
    assert.deepEqual(await both, [accept, accept]);
    const lines = accept ? readFileSync(knownHosts, 'utf8').trim().split('\n') : [];
    assert.equal(lines.length, accept ? 1 : 0);
    if (!accept) assert.match(b.refusal()?.message ?? '', /not known and was not accepted/);
    // Later connections: trusted from known_hosts without asking, or asked again after a refusal.
    const c = createHostKeyCheck(host, [knownHosts], consent, silent);
    const later = verify(c, key);
    if (!accept) answer(false);
    assert.equal(await later, accept);
    assert.equal(asked, accept ? 1 : 2);
  });
}
