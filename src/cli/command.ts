import { TrimError } from '../core/errors.ts';

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
