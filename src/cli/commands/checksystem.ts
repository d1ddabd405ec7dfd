import { palette } from '../color';
import { CommandError } from '../errors';
import { command } from '../spec';
import { BACKEND_OPTION, networkingBackend } from './node/agent';
import { checkRuntime, FIX_OPTION, LIBNETWORK_OPTION, RUNTIME_CHECK_OPTION } from './node/legacy';
import { formatChecks, runSystemChecks } from './system-checks';

export default command<{ backend?: 'bird' | 'gobgp' | 'none'; runtime?: string; fix?: boolean; libnetwork?: boolean }>({
  path: ['checksystem'],
  summary: 'Check that this host can run Calico: one OK/WARN/FAIL line per check, exit 1 on any FAIL',
  // --libnetwork raised v0.23's Docker API minimum to 1.21; every Docker this runs with has more.
  options: [BACKEND_OPTION, RUNTIME_CHECK_OPTION, FIX_OPTION, LIBNETWORK_OPTION],
  writes: false,
  async run(options, ctx) {
    checkRuntime(options.runtime);
    const backend = networkingBackend(ctx, options.backend);
    const results = await runSystemChecks(ctx, { docker: true, forwarding: true, bird: backend === 'bird' });
    ctx.io.out.write(formatChecks(results, palette(ctx.options.color)));
    if (results.some((r) => r.status === 'FAIL')) throw new CommandError('Some checks failed.');
  },
});
