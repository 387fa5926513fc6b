// The side effects the SSH layer needs from its host (VS Code, the CLI, tests), kept behind small
// interfaces so the core never imports `vscode` and tests can answer consent prompts themselves.

/** Secrets live only here (VS Code SecretStorage, or nothing in the CLI); never in settings or logs. */
export interface SecretStore {
  /** `key` is `passphrase:<identity file>` or `password:<user>@<host>:<port>`. */
  get(key: string): Promise<string | undefined>;
}

export interface HostKeyPrompt {
  host: string;
  port: number;
  keyType: string;
  /** OpenSSH style: `SHA256:` + unpadded base64 of sha256(key blob). */
  fingerprint: string;
  knownHostsFile: string;
}

/** Asked only for a host that has no entry in known_hosts; a changed key is never up for consent. */
export interface HostKeyConsent {
  confirm(prompt: HostKeyPrompt): Promise<boolean>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** One nvidia-smi reading of one GPU on one host. */
export interface GpuSample {
  host: string;
  time: number;
  gpu: number;
  utilizationPct: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
}

export interface SshDeps {
  secrets: SecretStore;
  consent: HostKeyConsent;
  logger: Logger;
  /** Local engine package root (the folder holding `sltrain/`), uploaded to the host by content hash. */
  engineDir: string;
  /** Local folder of run records and event mirrors (the run store's root). Default ~/.sltrain/runs. */
  localRunsDir?: string;
  /** Defaults to os.homedir(); where ~/.ssh/config, known_hosts and default keys are looked up. */
  homeDir?: string;
  /** known_hosts files to read; new keys are appended to the first. Default ~/.ssh/known_hosts. */
  knownHostsFiles?: string[];
  /** Unix socket of a running ssh-agent. Default $SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** GPU readings while a run is followed; sampling is off when absent. */
  samples?: (sample: GpuSample) => void;
  /**
   * Extra environment for every remote run, e.g. NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME to pin the
   * network interface multi-node traffic uses. Exported by the launch script (sshd ignores `env`).
   */
  runEnv?: Record<string, string>;
  /** Seconds between keepalive probes (default 10); a dead link is noticed after 3 missed ones. */
  keepaliveSeconds?: number;
}
