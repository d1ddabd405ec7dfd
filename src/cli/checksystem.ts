import { Command } from 'commander';
import { palette } from './color';
import { CommandError } from './errors';
import type { Session } from './session';
import { formatChecks, runSystemChecks } from './system-checks';

export function makeChecksystemCommand(session: Session): Command {
  return new Command('checksystem')
    .description('Check that this host can run Calico: one OK/WARN/FAIL line per check, exit 1 on any FAIL')
    .action(async () => {
      const ctx = session.context();
      const results = await runSystemChecks(ctx, { docker: true, forwarding: true });
      ctx.io.out.write(formatChecks(results, palette(ctx.options.color)));
      if (results.some((r) => r.status === 'FAIL')) throw new CommandError('Some checks failed.');
    });
}
