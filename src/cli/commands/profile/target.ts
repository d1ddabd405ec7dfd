import type { ArgumentSpec } from '../../spec';
import { NotFoundError } from '../../../datastore/errors';
import type { Profile } from '../../../datastore/profiles';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { checkProfileName } from './names';

/**
 * The profile a user named, and how its tags read to them. A profile made by the Docker network
 * driver is stored under the network's ID and its tags are network IDs; users type network names.
 * A profile that really has the typed name always wins over a network of that name.
 */
export interface ProfileTarget {
  /** The name the profile is stored under in etcd. */
  readonly id: string;
  /** The name as the user typed it, for messages. */
  readonly name: string;
  /** How a stored tag (a network ID for network profiles) is shown. */
  showTag(tag: string): string;
  /**
   * The tag to store for one the user typed. For network profiles, a network name becomes its ID;
   * an ID that no longer maps to a network is kept if the profile already holds it (so broken
   * rules can still be removed); anything else is refused.
   */
  storeTag(tag: string, current: Profile): string;
}

export const notFound = (name: string): NotFoundError => new NotFoundError('profile', name, `Profile ${name} not found.`);

/** For `.catch()` on a profile edit: the store names a missing profile by its ID; say it as the user typed it. */
export function asTyped(name: string): (error: unknown) => never {
  return (error) => {
    throw error instanceof NotFoundError && error.kind === 'profile' ? notFound(name) : error;
  };
}

/** The target and the profile as it was read while resolving it (for commands that only read). */
export interface ResolvedProfile {
  readonly target: ProfileTarget;
  readonly profile: Profile;
}

/** Checks the typed name, then finds the profile: by that name, else as a Docker network's profile. */
export async function resolveProfile(ctx: CommandContext, name: string): Promise<ResolvedProfile> {
  checkProfileName(name);
  const profiles = ctx.profiles();
  const literal = await profiles.get(name);
  if (literal) return { target: plainTarget(name), profile: literal };

  let networks;
  try {
    networks = await ctx.networks();
  } catch (error) {
    // No Docker does not make the name exist: say "not found", and why the network check could not run.
    throw new CommandError(`Profile ${name} not found. (Docker could not be asked for a network of that name: ${(error as Error).message})`);
  }
  const id = networks.idForName(name);
  const profile = id === undefined ? undefined : await profiles.get(id);
  if (id === undefined || !profile) throw notFound(name);
  const target: ProfileTarget = {
    id,
    name,
    showTag: (tag) => networks.nameForId(tag) ?? tag,
    storeTag: (tag, current) => {
      const networkId = networks.idForName(tag);
      if (networkId !== undefined) return networkId;
      if (storedTags(current).has(tag)) return tag;
      throw new CommandError(
        `You are referencing a Docker network (${tag}) that does not exist.  Create the network first and then update this profile rule to reference it.`,
      );
    },
  };
  return { target, profile };
}

function plainTarget(name: string): ProfileTarget {
  return { id: name, name, showTag: (tag) => tag, storeTag: (tag) => tag };
}

function storedTags(profile: Profile): Set<string> {
  const tags = new Set(profile.tags);
  for (const rule of [...profile.rules.inbound, ...profile.rules.outbound]) {
    if (rule.from.tag !== undefined) tags.add(rule.from.tag);
    if (rule.to.tag !== undefined) tags.add(rule.to.tag);
  }
  return tags;
}

/** The `<PROFILE>` argument of the verbs under `profile <PROFILE> …` (argv.ts moves it after the verb). */
export const PROFILE_ARG: ArgumentSpec = { syntax: '<PROFILE>', key: 'name' };
export const TAG_ARG: ArgumentSpec = { syntax: '<TAG>', key: 'tag' };
