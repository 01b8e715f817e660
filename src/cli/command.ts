import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TrimError, errorMessage } from '../core/errors.ts';

export interface Command {
  /** One line for `trim --help`. */
  summary: string;
  /** Full usage text for `trim <command> --help`. */
  usage: string;
  /** Returns the exit code (0 when undefined). */
  run(argv: string[]): Promise<number | void>;
}

/** Bad command-line arguments: exit code 2. */
export class UsageError extends TrimError {}

/** Strict flag parsing shared by every command: unknown, malformed or positional arguments are UsageErrors. */
export function parseOptions<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}
