// A small, strict flag parser: unknown flags and missing values are errors with the flag's name,
// because a silently ignored typo in a memory plan gives a confidently wrong answer.

export class UsageError extends Error {}

export interface FlagSpec {
  /** 'bool' flags take no value; others take the next argument (or --flag=value). */
  type: 'bool' | 'string' | 'number';
  choices?: readonly string[];
  /** Numbers only: whole numbers, and the accepted range (the message names the bound). */
  integer?: boolean;
  min?: number;
  max?: number;
}

function checkNumber(name: string, value: string, s: FlagSpec): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number; got "${value}".`);
  if (s.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number; got ${value}.`);
  if (s.min !== undefined && n < s.min) throw new UsageError(`--${name} must be at least ${s.min}; got ${value}.`);
  if (s.max !== undefined && n > s.max) throw new UsageError(`--${name} ${value} is above the limit of ${s.max}; use ${s.max} or less.`);
  return n;
}

export interface ParsedArgs {
  flags: Map<string, string | number | boolean>;
  positional: string[];
  /** Everything after a bare `--`, verbatim. */
  rest: string[];
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags = new Map<string, string | number | boolean>();
  const positional: string[] = [];
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}; run with --help to see the options.`);
    if (s.type === 'bool') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value.`);
      flags.set(name, true);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value.`);
    if (s.choices && !s.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${s.choices.join(', ')}; got "${value}".`);
    }
    if (s.type === 'number') {
      flags.set(name, checkNumber(name, value, s));
    } else {
      flags.set(name, value);
    }
  }
  return { flags, positional, rest };
}
