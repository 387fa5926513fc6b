// The run store: one directory per run under the runs root (default `.sltrain/runs/<id>`) holding
// run.json. It knows nothing about backends: remote runs keep their events mirror in the same folder.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSmallFile } from './runFiles';
import type { RunRecord, RunStatus } from './types';

export const RUN_FILE = 'run.json';
/** A run record is a few hundred bytes; anything near this is not one. */
const MAX_RUN_FILE_BYTES = 1024 * 1024;

/** Sortable, readable, unique enough for one user: 20261129-011502-k3f9. */
export function newRunId(nowMs: number, random: () => number = Math.random): string {
  const d = new Date(nowMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  const suffix = Math.floor(random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${stamp}-${suffix}`;
}

export function isFinal(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'stopped';
}

function isRecord(v: unknown): v is RunRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<RunRecord>;
  return typeof r.id === 'string' && typeof r.dir === 'string' && typeof r.localDir === 'string'
    && typeof r.status === 'string' && Array.isArray(r.engineArgs) && typeof r.target === 'object';
}

export class RunStore {
  constructor(readonly root: string) {}

  dirFor(id: string): string {
    return join(this.root, id);
  }

  /** Every readable run, newest first. A folder with a missing or corrupt run.json is skipped. */
  async list(): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const records = await Promise.all(names.map((n) => this.get(n)));
    return records.filter((r): r is RunRecord => r !== undefined).sort((a, b) => b.createdAt - a.createdAt);
  }

  async get(id: string): Promise<RunRecord | undefined> {
    if (id.includes('/') || id.includes('\\') || id.startsWith('.')) return undefined;
    // Only a regular file of sane size: a FIFO or a link to /dev/zero must not hang or fill memory.
    const text = await readSmallFile(join(this.dirFor(id), RUN_FILE), MAX_RUN_FILE_BYTES);
    if (text === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      // A record is only the one of its own folder: an id like "../x" would make save() write elsewhere.
      return isRecord(parsed) && parsed.id === id ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Atomic (write + rename), so a reader never sees half a file. A final status already stored
   * (completed, failed, stopped) is never replaced by "unknown" or "starting": those only say that
   * nothing could be learned right now (host down, record reconciled late), not how the run ended.
   */
  async save(record: RunRecord): Promise<void> {
    const dir = this.dirFor(record.id);
    await mkdir(dir, { recursive: true });
    const stored = await this.get(record.id);
    const keep = stored !== undefined && isFinal(stored.status) && !isFinal(record.status) && record.status !== 'running';
    const toWrite = keep ? { ...record, status: stored.status } : record;
    const tmp = join(dir, `${RUN_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(toWrite, null, 2) + '\n');
    await rename(tmp, join(dir, RUN_FILE));
  }

  async delete(id: string): Promise<void> {
    if ((await this.get(id)) === undefined) throw new Error(`no run "${id}" in ${this.root}`);
    await rm(this.dirFor(id), { recursive: true, force: true });
  }

  /** A run by exact id, unique id prefix or exact name (what a user types after `sltrain attach`). */
  async resolve(ref: string): Promise<RunRecord | undefined> {
    const exact = await this.get(ref);
    if (exact) return exact;
    const all = await this.list();
    const byPrefix = all.filter((r) => r.id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0];
    const byName = all.filter((r) => r.name === ref);
    return byName.length === 1 ? byName[0] : undefined;
  }
}
