import { command } from '../../spec';
import { CONFIG_ARGS, CONFIG_OPTIONS, type ConfigFlags, runConfig, VALID_CONFIGURATION } from './settings';

export default command<ConfigFlags>({
  path: ['config', 'bgp'],
  summary: "Show, set or remove a BGP setting of every node (BIRD's log level)",
  usage: 'config bgp <NAME> [<VALUE>|--remove] [--force]',
  args: CONFIG_ARGS,
  options: CONFIG_OPTIONS,
  writes: true,
  complete: ['loglevel'],
  help: `${VALID_CONFIGURATION}

A node's own setting (config node bgp) wins over this one.

Warning: changing the global BGP log level reconfigures BIRD on every node at once, which may make
BGP sessions bounce (a transient loss of service). Prefer changing it one node at a time with
'calicoctl config node bgp'.

Examples:
  calicoctl config bgp loglevel debug
  calicoctl config bgp loglevel --remove`,
  run: (flags, ctx) => runConfig({ component: 'bgp' }, flags, ctx),
});
