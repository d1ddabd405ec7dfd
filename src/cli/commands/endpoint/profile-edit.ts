import { EndpointWriter } from '../../../datastore/endpoints';
import type { EndpointKey } from '../../../datastore/keys';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';
import { command, type CommandSpec } from '../../spec';
import { checkProfileName } from '../profile/names';
import { ENDPOINT_ARG, FILTER_OPTIONS, type Filters, findEndpoint, PROFILES_ARG, profileUsage } from './filters';
import { previewIfDryRun } from '../policy/preview-hook';

export type Verb = 'append' | 'remove' | 'set';
type EditOptions = Filters & { id: string; names: string[] };

/** `endpoint <ENDPOINT_ID> profile append|remove|set`: the spec of one of the three list edits. */
export function profileEditCommand(verb: Verb, summary: string): CommandSpec<EditOptions> {
  return command<EditOptions>({
    path: ['endpoint', 'profile', verb],
    usage: profileUsage(verb, true),
    summary,
    args: [ENDPOINT_ARG, PROFILES_ARG],
    options: FILTER_OPTIONS,
    writes: true,
    run: (options, ctx) => editProfiles(verb, options, ctx),
  });
}

async function editProfiles(verb: Verb, { id, names, ...filters }: EditOptions, ctx: CommandContext): Promise<void> {
  checkProfileNames(verb, names);
  await editEndpointProfiles(verb, await findEndpoint(ctx, { ...filters, endpoint: id }), names, ctx);
}

/** The checks of the words alone, made before anything is looked up. */
export function checkProfileNames(verb: Verb, names: readonly string[]): void {
  names.forEach(checkProfileName);
  if (verb !== 'set' && names.length === 0) throw new UsageError('No profile specified.');
}

/** Edits one endpoint's profile list (`endpoint … profile` and `container … profile`): the names must be profiles. */
export async function editEndpointProfiles(verb: Verb, target: EndpointKey, names: readonly string[], ctx: CommandContext): Promise<void> {
  const existing = new Set(await ctx.profiles().list());
  for (const name of names) if (!existing.has(name)) throw new CommandError(`Profile with name ${name} was not found.`);
  const message = await new EndpointWriter(ctx.kv()).editProfiles(target, (current) => profileEdit(verb, current, names));
  ctx.io.out.write(`${message}\n`);
  await previewIfDryRun(ctx);
}

/** The new profile list and the message, or a refusal. */
export function profileEdit(verb: Verb, current: readonly string[], names: readonly string[]): { value?: readonly string[]; result: string } {
  switch (verb) {
    case 'append': {
      const present = names.find((name) => current.includes(name));
      if (present !== undefined) return { result: `Profile ${present} is already in endpoint profile list` };
      return { value: [...current, ...names], result: `Profile(s) ${names.join(', ')} appended.` };
    }
    case 'remove': {
      const absent = names.find((name) => !current.includes(name));
      if (absent !== undefined) throw new CommandError(`Profile ${absent} is not in endpoint profile list.`);
      return { value: current.filter((name) => !names.includes(name)), result: `Profile(s) ${names.join(',')} removed.` };
    }
    case 'set':
      return { value: [...names], result: names.length === 0 ? 'Removed all profiles from endpoint.' : `Profile(s) set to ${names.join(', ')}.` };
  }
}
