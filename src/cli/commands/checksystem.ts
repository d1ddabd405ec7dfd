import { palette } from '../color';
import { CommandError } from '../errors';
import { command } from '../spec';
import { formatChecks, runSystemChecks } from './system-checks';

export default command<Record<string, never>>({
  path: ['checksystem'],
  summary: 'Check that this host can run Calico: one OK/WARN/FAIL line per check, exit 1 on any FAIL',
  writes: false,
  async run(_options, ctx) {
    const results = await runSystemChecks(ctx, { docker: true, forwarding: true });
    ctx.io.out.write(formatChecks(results, palette(ctx.options.color)));
    if (results.some((r) => r.status === 'FAIL')) throw new CommandError('Some checks failed.');
  },
});
