// The engine files shipped to a host and their content hash. The remote copy lives in
// <workDir>/engine-<sha256-12>, so an unchanged engine is never uploaded twice and two versions
// can sit side by side while older runs finish.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SKIP = new Set(['__pycache__', '.venv', '.pytest_cache', 'tests', 'bench', 'build', 'dist']);

export interface EngineFile {
  /** Forward-slash path relative to the engine root. */
  rel: string;
  abs: string;
}

function walk(dir: string, root: string, out: EngineFile[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (SKIP.has(name) || name.endsWith('.pyc') || name.endsWith('.egg-info')) continue;
    const abs = join(dir, name);
    if (statSync(abs).isDirectory()) walk(abs, root, out);
    else out.push({ rel: relative(root, abs).split(sep).join('/'), abs });
  }
}

/** `engineDir` holds `sltrain/` and, when present, pyproject.toml (needed for `pip install`). */
export function listEngineFiles(engineDir: string): EngineFile[] {
  if (!existsSync(join(engineDir, 'sltrain'))) throw new Error(`No engine package at ${engineDir}/sltrain.`);
  const files: EngineFile[] = [];
  walk(join(engineDir, 'sltrain'), engineDir, files);
  if (existsSync(join(engineDir, 'pyproject.toml'))) files.push({ rel: 'pyproject.toml', abs: join(engineDir, 'pyproject.toml') });
  return files;
}

/** sha256 over (path, length, bytes) of every file, so renames and moves change the hash too. */
export function engineHash(files: EngineFile[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    const data = readFileSync(f.abs);
    h.update(`${f.rel}\0${data.length}\0`).update(data);
  }
  return h.digest('hex').slice(0, 12);
}
