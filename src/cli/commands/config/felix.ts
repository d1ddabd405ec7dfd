import { command } from '../../spec';
import { CONFIG_ARGS, CONFIG_OPTIONS, type ConfigFlags, runConfig, VALID_CONFIGURATION } from './settings';

export default command<ConfigFlags>({
  path: ['config', 'felix'],
  summary: "Show, set or remove a setting of every host's policy agent (Felix's global configuration)",
  usage: 'config felix <NAME> [<VALUE>|--remove] [--force]',
  args: CONFIG_ARGS,
  options: CONFIG_OPTIONS,
  writes: true,
  complete: ['loglevel'],
  help: `${VALID_CONFIGURATION}

calico-node follows felix loglevel without a restart: none logs errors only, critical is error;
once removed, each calico-node logs at its own --log-level again.

Examples:
  calicoctl config felix loglevel debug
  calicoctl config felix loglevel --remove
  calicoctl config felix ReportingIntervalSecs 30 --force`,
  run: (flags, ctx) => runConfig({ component: 'felix' }, flags, ctx),
});
