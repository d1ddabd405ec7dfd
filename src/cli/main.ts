import { CommanderError } from 'commander';
import { reorderWords } from './argv';
import type { Deps } from './context';
import { describeError, EXIT_OK, exitCodeFor } from './errors';
import { buildProgram } from './program';

/** Runs one calicoctl invocation and resolves to its exit code. Never exits the process itself. */
export async function main(argv: readonly string[], deps: Deps): Promise<number> {
  const { root, context } = buildProgram(deps);
  try {
    if (argv.length === 0) {
      root.outputHelp();
      return EXIT_OK;
    }
    await root.parseAsync(reorderWords(argv), { from: 'user' });
    if (context.options.dryRun) deps.io.err.write('Dry run: nothing was changed.\n');
    return EXIT_OK;
  } catch (error) {
    // Commander has already written its own message (help, version or a usage error).
    if (!(error instanceof CommanderError)) deps.io.err.write(describeError(error, context.options.debug || argv.includes('--debug')));
    return exitCodeFor(error);
  } finally {
    context.close();
  }
}
