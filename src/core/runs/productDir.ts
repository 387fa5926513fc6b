// Where the bundled engine lives: the folder above us that holds engine/sltrain (the extension's
// folder, the installed CLI package, or the repository when run from out/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function findProductDir(start: string): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'engine', 'sltrain'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
