import { palette } from '../color';
import { CommandError } from '../errors';
import { command } from '../spec';
import { BACKEND_OPTION, networkingBackend } from './node/agent';
import { formatChecks, runSystemChecks } from './system-checks';

export default command<{ backend?: 'bird' | 'gobgp' | 'none' }>({
  path: ['checksystem'],
  summary: 'Check that this host can run Calico: one OK/WARN/FAIL line per check, exit 1 on any FAIL',
  options: [BACKEND_OPTION],
  writes: false,
  async run(options, ctx) {
    const backend = networkingBackend(ctx, options.backend);
    const results = await runSystemChecks(ctx, { docker: true, forwarding: true, bird: backend === 'bird' });
    ctx.io.out.write(formatChecks(results, palette(ctx.options.color)));
    if (results.some((r) => r.status === 'FAIL')) throw new CommandError('Some checks failed.');
  },
});
