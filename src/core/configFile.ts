// Reads a model config file the user named, refusing what cannot be one before reading much of it:
// a FIFO would block a plain read forever, /dev/zero or /dev/urandom would fill memory, and bytes that
// are not UTF-8 would be silently replaced and then reported as a confusing JSON error.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { fileKind } from './fileKind';
import { MAX_CONFIG_BYTES } from './inputLimits';
import { ConfigError } from './modelConfig';

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (approximate), or 0. */
function firstBadUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return 0;
}

function tooLarge(path: string): ConfigError {
  return new ConfigError([{ message: `${path}: larger than ${MAX_CONFIG_BYTES} bytes, which no model config is. Give the model's config.json.` }]);
}

/**
 * The UTF-8 text of a regular file of at most MAX_CONFIG_BYTES. Throws ConfigError for anything else;
 * errors from opening the file (ENOENT, EACCES) are thrown as they are, for the caller to word.
 */
export function readConfigFile(path: string): string {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before fstat can refuse it.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new ConfigError([{ message: `${path} is ${fileKind(st)}, not a config file. Give the path of a config.json.` }]);
    }
    if (st.size > MAX_CONFIG_BYTES) throw tooLarge(path);
    // Read to EOF, not to st.size (a file can grow, /proc files report 0); one byte over the limit
    // tells a file that is too large from one that fits.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length;) n += got = readSync(fd, buf, n, buf.length - n, n);
    if (n > MAX_CONFIG_BYTES) throw tooLarge(path);
    const bytes = buf.subarray(0, n);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const at = firstBadUtf8(bytes);
      const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
      throw new ConfigError([{
        line,
        message: `${path}: not UTF-8 text (byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${at}, line ${line}). Save the config as UTF-8 JSON.`,
      }]);
    }
  } finally {
    closeSync(fd);
  }
}
