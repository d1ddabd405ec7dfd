import { command } from '../../spec';
import { thisHostname } from '../node/agent';
import { CONFIG_ARGS, CONFIG_OPTIONS, type ConfigFlags, runConfig, VALID_CONFIGURATION } from './settings';

export default command<ConfigFlags>({
  path: ['config', 'node', 'bgp'],
  summary: "Show, set or remove a BGP setting of this node only (BIRD's log level)",
  usage: 'config node bgp <NAME> [<VALUE>|--remove] [--force]',
  args: CONFIG_ARGS,
  options: CONFIG_OPTIONS,
  writes: true,
  complete: ['loglevel'],
  help: `${VALID_CONFIGURATION}

This node is $HOSTNAME (environment or config file), else the system hostname. Its setting wins
over the global one (config bgp); once removed, the global one applies again.

Examples:
  calicoctl config node bgp loglevel debug
  calicoctl config node bgp loglevel --remove`,
  run: (flags, ctx) => runConfig({ component: 'bgp', hostname: thisHostname(ctx) }, flags, ctx),
});
