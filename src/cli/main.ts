import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { positionalWords, reorderWords } from './argv';
import type { Deps } from './context';
import { describeError, EXIT_OK, exitCodeFor, exitCodeForAnswer, UsageError } from './errors';
import { buildProgram } from './program';

/** Runs one calicoctl invocation and resolves to its exit code. Never exits the process itself. */
export async function main(argv: readonly string[], deps: Deps): Promise<number> {
  const { root, context } = buildProgram(deps);
  try {
    if (argv.length === 0) {
      root.outputHelp();
      return EXIT_OK;
    }
    const words = reorderWords(argv);
    if (words.includes('--help') || words.includes('-h')) refuseUnknownCommand(root, positionalWords(words));
    await root.parseAsync(words, { from: 'user' });
    if (context.options.dryRun) deps.io.err.write('Dry run: nothing was changed.\n');
    return exitCodeForAnswer(context.answer);
  } catch (error) {
    // Commander has already written its own message (help, version or a usage error).
    if (!(error instanceof CommanderError)) deps.io.err.write(describeError(error, context.options.debug || argv.includes('--debug')));
    return exitCodeFor(error);
  } finally {
    context.close();
  }
}

/**
 * Commander shows the nearest known command's help, and exits 0, when --help follows an unknown
 * word (`calicoctl bogus --help`): a script could not tell that from success. So the words are
 * checked against the tree first, and an unknown one is the same usage error as without --help.
 */
function refuseUnknownCommand(root: Command, words: readonly string[]): void {
  let command = root;
  for (const word of words) {
    if (command.commands.length === 0 || command.registeredArguments.length > 0) return; // the rest are arguments
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) {
      if (word === 'help') return; // Commander's own `help <command>`
      throw new UsageError(`error: unknown command '${word}'`);
    }
    command = sub;
  }
}
