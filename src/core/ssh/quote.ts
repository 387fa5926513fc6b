// POSIX shell quoting. Every string that reaches a remote shell goes through here, so a run name, path
// or engine argument is always one literal word, whatever it contains.

const SAFE = /^[A-Za-z0-9_\-.,:/@%+=]+$/;

/** One argument as a single POSIX-shell word with the exact same bytes. */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('A shell argument cannot contain a NUL byte.');
  if (SAFE.test(arg)) return arg;
  // Inside single quotes nothing is special except the quote itself, which is closed, escaped, reopened.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shJoin(args: readonly string[]): string {
  return args.map(shQuote).join(' ');
}

/**
 * A remote path that may start with `~/`: the tilde must expand, so it becomes "$HOME" and the rest is
 * quoted. Used only before the absolute home directory is known.
 */
export function shPath(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${shQuote(path.slice(2))}`;
  return shQuote(path);
}
