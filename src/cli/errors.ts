import { CommanderError } from 'commander';
import { CalicoError } from '../errors';
import { RuleSyntaxError } from '../policy/parser';

/** The words of a command are wrong: a missing or extra word, a bad option. Exit 2. */
export class UsageError extends CalicoError {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command failed for a reason it has already put into words. Exit 1. */
export class CommandError extends CalicoError {
  readonly code = 'command';
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * What a command that answers a question (`policy trace`: is this packet allowed?) concluded.
 * A "no" is an answer, not an error: nothing goes to stderr, and the exit code says it.
 */
export type Answer = 'yes' | 'no';

/** 0 for yes (or for a command that answers nothing), 1 for no, as `grep` and `test` do. */
export function exitCodeForAnswer(answer: Answer | undefined): number {
  return answer === 'no' ? EXIT_FAILURE : EXIT_OK;
}

/**
 * The one place that decides exit codes, by the error's type: 0 success, 2 for wrong words
 * (usage, and rule words out of grammar), 1 for everything else (validation, not found, etcd or
 * Docker unreachable, internal errors).
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    // Commander also shows help, on stderr with exitCode 1, when a command's sub-command is missing.
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return EXIT_USAGE;
  }
  if (error instanceof UsageError || error instanceof RuleSyntaxError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** One line for stderr; the stack only with --debug. A CalicoError is written for users; anything else is a bug and says so. */
export function describeError(error: unknown, debug: boolean): string {
  if (error instanceof CalicoError) {
    return debug && error.stack ? `${error.message}\n${error.stack}\n` : `${error.message}\n`;
  }
  const text = error instanceof Error ? error.message : String(error);
  if (debug && error instanceof Error && error.stack) return `Internal error: ${text}\n${error.stack}\n`;
  return `Internal error: ${text} (run again with --debug for details)\n`;
}
