// In-memory stand-ins for the SSH layer's side-effect interfaces.
import type { HostKeyPrompt, Logger, SecretStore, SshDeps } from '../../../src/core/ssh/deps';

export interface TestLogger extends Logger {
  lines: string[];
}

export function testLogger(): TestLogger {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}

export function mapSecrets(values: Record<string, string>): SecretStore & { asked: string[] } {
  const asked: string[] = [];
  return { asked, get: async (k) => { asked.push(k); return values[k]; } };
}

export interface DepsOptions {
  home: string;
  knownHosts: string;
  engineDir: string;
  accept?: boolean;
  secrets?: Record<string, string>;
  agentSocket?: string;
}

export function testDeps(o: DepsOptions): SshDeps & { prompts: HostKeyPrompt[]; logger: TestLogger } {
  const prompts: HostKeyPrompt[] = [];
  return {
    secrets: mapSecrets(o.secrets ?? {}),
    consent: { confirm: async (p) => { prompts.push(p); return o.accept ?? false; } },
    logger: testLogger(),
    engineDir: o.engineDir,
    homeDir: o.home,
    knownHostsFiles: [o.knownHosts],
    agentSocket: o.agentSocket ?? '',
    prompts,
  };
}
