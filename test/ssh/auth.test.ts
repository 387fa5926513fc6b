// Authentication and host key checks against a real sshd on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { passphraseKey, passwordKey } from '../../src/core/ssh/auth';
import { createSshBackend } from '../../src/core/ssh/backend';
import { connectSsh } from '../../src/core/ssh/connection';
import { SshError } from '../../src/core/ssh/errors';
import { fingerprintSha256 } from '../../src/core/ssh/fingerprint';
import { testDeps } from './harness/fakes';
import { keygen, startSshd } from './harness/sshd';
import { PASSPHRASE, USER, fixtureEngine, knownHostsEntry, makeWorld } from './harness/world';
import type { World } from './harness/world';

let w: World;
before(async () => { w = await makeWorld(2); });
after(async () => { await w.close(); });

const deps = (o: { accept?: boolean; secrets?: Record<string, string>; agentSocket?: string; knownHosts?: string } = {}): ReturnType<typeof testDeps> =>
  testDeps({ home: w.home, knownHosts: o.knownHosts ?? w.knownHosts, engineDir: fixtureEngine(), ...o });

async function whoami(d: ReturnType<typeof testDeps>, host = w.host()): Promise<string> {
  const s = await connectSsh(host, d);
  try {
    return (await s.exec('id -un')).stdout.trim();
  } finally {
    s.end();
  }
}

async function rejects(p: Promise<unknown>, failure: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof SshError && e.failure === failure && pattern.test(e.message));
}

test('key file without passphrase', async () => {
  assert.equal(await whoami(deps()), USER);
});

test('key file with passphrase from the secret store; missing passphrase gives a clear message', async () => {
  const host = w.host(0, { identityFile: w.clientKeyPw });
  const d = deps({ secrets: { [passphraseKey(w.clientKeyPw)]: PASSPHRASE } });
  assert.equal(await whoami(d, host), USER);
  await rejects(whoami(deps(), host), 'auth', /encrypted and no passphrase is stored/);
  await rejects(whoami(deps({ secrets: { [passphraseKey(w.clientKeyPw)]: 'wrong' } }), host), 'auth', /does not decrypt/);
});

test('ssh-agent via its socket', async () => {
  const sock = join(w.dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100; i++) {
      try { execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' }); break; } catch (e) {
        if ((e as { status?: number }).status === 1) break; // agent up, no identities yet
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    execFileSync('ssh-add', [w.clientKey], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
    const host = w.host(0, { identityFile: undefined });
    assert.equal(await whoami(deps({ agentSocket: sock }), host), USER);
    await rejects(whoami(deps(), host), 'auth', new RegExp(`Authentication to ${USER}@127\\.0\\.0\\.1:\\d+ failed`));
  } finally {
    agent.kill('SIGTERM');
  }
});

test('unknown host key: refused without consent, recorded with consent, then trusted silently', async () => {
  const kh = join(w.dir, 'kh_unknown');
  writeFileSync(kh, '');
  const refuse = deps({ knownHosts: kh, accept: false });
  await rejects(whoami(refuse), 'host-key-unknown', /not known and was not accepted/);
  const pubB64 = readFileSync(`${w.servers[0].hostKeyFile}.pub`, 'utf8').split(/\s+/)[1];
  assert.equal(refuse.prompts[0].fingerprint, fingerprintSha256(Buffer.from(pubB64, 'base64')));
  assert.equal(refuse.prompts[0].port, w.servers[0].port);
  assert.equal(readFileSync(kh, 'utf8'), '');

  const accept = deps({ knownHosts: kh, accept: true });
  assert.equal(await whoami(accept), USER);
  assert.equal(accept.prompts.length, 1);
  assert.match(readFileSync(kh, 'utf8'), /^\|1\|/);
  const again = deps({ knownHosts: kh, accept: false });
  assert.equal(await whoami(again), USER);
  assert.equal(again.prompts.length, 0);
  // OpenSSH itself agrees with what we recorded.
  const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${w.servers[0].port}`, '-f', kh], { encoding: 'utf8' });
  assert.match(found, /found: line 1/);
});

test('hashed known_hosts entry from ssh-keygen -H matches [127.0.0.1]:PORT', async () => {
  const kh = join(w.dir, 'kh_hashed');
  writeFileSync(kh, knownHostsEntry(w.servers[0]));
  execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
  const d = deps({ knownHosts: kh });
  assert.equal(await whoami(d), USER);
  assert.equal(d.prompts.length, 0);
});

test('changed host key: refused with a warning, consent is not even asked', async () => {
  const kh = join(w.dir, 'kh_changed');
  keygen(join(w.dir, 'other_host_key'));
  const other = readFileSync(join(w.dir, 'other_host_key.pub'), 'utf8').split(/\s+/);
  writeFileSync(kh, `[127.0.0.1]:${w.servers[0].port} ${other[0]} ${other[1]}\n`);
  const d = deps({ knownHosts: kh, accept: true });
  await rejects(whoami(d), 'host-key-changed', /WARNING: the host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
  assert.equal(d.prompts.length, 0);
});

test('connection refused maps to a user message; status of a run there is "unknown"', async () => {
  await rejects(whoami(deps(), w.host(0, { port: 1 })), 'refused', new RegExp(`Connection refused by ${USER}@127\\.0\\.0\\.1:1`));
  const host = w.host(0, { port: 1 });
  const rec = { id: 'x', name: 'x', target: { kind: 'ssh' as const, host }, engineArgs: [], dir: '/nonexistent', localDir: '', createdAt: 0, status: 'running' as const };
  const d = deps();
  assert.equal(await createSshBackend(d).status(rec), 'unknown');
  assert.match(d.logger.lines.join('\n'), /Connection refused/);
});

test('ProxyJump from ~/.ssh/config: the second sshd reached through the first', async () => {
  writeFileSync(join(w.home, '.ssh', 'config'), `Host jumpbox\n  HostName 127.0.0.1\n  Port ${w.servers[0].port}\n`
    + `  User root\n  IdentityFile ${w.clientKey}\n`);
  try {
    const s = await connectSsh(w.host(1, { proxyJump: 'jumpbox' }), deps());
    try {
      const [, , , port] = (await s.exec('echo $SSH_CONNECTION')).stdout.trim().split(' ');
      assert.equal(Number(port), w.servers[1].port);
      assert.equal(w.servers[0].connections(), 1, 'the jump host carries the connection');
    } finally {
      s.end();
    }
  } finally {
    writeFileSync(join(w.home, '.ssh', 'config'), '');
  }
});

test('password: taken from the secret store only, sent only when the server offers password auth', async () => {
  // A server that accepts passwords only; the test user has no usable password here, so the login must fail,
  // but only after the stored password was asked for and tried.
  const s = await startSshd(join(w.dir, 'sshd-pw'), [], undefined, ['PasswordAuthentication yes', 'PermitRootLogin yes',
    'AuthenticationMethods password']);
  try {
    writeFileSync(w.knownHosts, knownHostsEntry(s), { flag: 'a' });
    const host = { ...w.host(0, { identityFile: undefined }), port: s.port };
    const d = deps({ secrets: { [passwordKey(host)]: 'not-the-password' } });
    await rejects(whoami(d, host), 'auth', new RegExp(`Authentication to ${USER}@127\\.0\\.0\\.1:\\d+ failed`));
    assert.deepEqual((d.secrets as unknown as { asked: string[] }).asked, [passwordKey(host)]);
    assert.match(readFileSync(join(s.dir, 'sshd.log'), 'utf8'), new RegExp(`Failed password for ${USER}`));
  } finally {
    await s.stop();
  }
});
