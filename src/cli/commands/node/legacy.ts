import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { ArgumentSpec, OptionSpec } from '../../spec';

/**
 * Flags of calicoctl v0.23 that mean nothing here any more, accepted so that a script written for
 * it runs unchanged: each is ignored with a one-line note on stderr, or refused with a clear error
 * when honouring it silently would do the wrong thing (rkt).
 */
export const LIBNETWORK_OPTION: OptionSpec = { flags: '--libnetwork', description: 'accepted for v0.23 scripts and ignored: calico-node always serves the Docker plugin' };
export const LIBNETWORK_IMAGE_OPTION: OptionSpec = { flags: '--libnetwork-image <IMAGE>', description: 'accepted for v0.23 scripts and ignored (there is no separate plugin image)' };
export const FIX_OPTION: OptionSpec = { flags: '--fix', description: 'accepted for v0.23 scripts and ignored (it was already a no-op there)' };
export const RUNTIME_CHECK_OPTION: OptionSpec = { flags: '--runtime <RUNTIME>', description: 'accepted for v0.23 scripts: docker (rkt is not supported)' };

/**
 * v0.23's docopt took a bare `bird`, `gobgp` or `none` after `calicoctl node` and ignored it
 * (it did not set the backend); so does this.
 */
export const BARE_BACKEND_ARG: ArgumentSpec = { syntax: '[backend]', key: 'bareBackend', description: 'accepted for v0.23 scripts and ignored; use --backend', choices: ['bird', 'gobgp', 'none'] };

export interface LegacyNodeFlags {
  libnetwork?: boolean;
  libnetworkImage?: string;
  bareBackend?: string;
}

/** One note for whatever of the plugin flags were given; none when neither was. */
export function noteLibnetwork(ctx: CommandContext, flags: LegacyNodeFlags): void {
  const given = [flags.libnetwork && '--libnetwork', flags.libnetworkImage !== undefined && '--libnetwork-image'].filter(Boolean);
  if (given.length === 0) return;
  ctx.io.err.write(`Note: ${given.join(' and ')} ${given.length > 1 ? 'are' : 'is'} ignored: calico-node always serves the Docker network and IPAM plugin.\n`);
}

/** `status --runtime` and `checksystem --runtime`: docker is what they check; rkt cannot be. */
export function checkRuntime(value: string | undefined): void {
  if (value === undefined || value === 'docker') return;
  if (value === 'rkt') throw new CommandError('The rkt runtime is not supported: calico-node runs as a Docker container or as a host process.');
  throw new CommandError(`Invalid runtime specified: '${value}'`);
}
