import { CommanderError } from 'commander';
import { reorderWords } from './argv';
import type { Deps } from './context';
import { describeError, EXIT_OK, exitCodeFor } from './errors';
import { buildProgram } from './program';
import { Session } from './session';

/** Runs one calicoctl invocation and resolves to its exit code. Never exits the process itself. */
export async function main(argv: readonly string[], deps: Deps): Promise<number> {
  const session = new Session(deps);
  try {
    const program = buildProgram(session);
    session.attach(program);
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_OK;
    }
    await program.parseAsync(reorderWords(argv), { from: 'user' });
    if (session.dryRun) deps.io.err.write('Dry run: nothing was changed.\n');
    return EXIT_OK;
  } catch (error) {
    // Commander has already written its own message (help, version or a usage error).
    if (!(error instanceof CommanderError)) deps.io.err.write(describeError(error, session.debug || argv.includes('--debug')));
    return exitCodeFor(error);
  } finally {
    session.close();
  }
}
