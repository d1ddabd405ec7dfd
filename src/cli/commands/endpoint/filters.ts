import type { Endpoint } from '../../../datastore/endpoints';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { ArgumentSpec, OptionSpec } from '../../spec';

/** The filters every endpoint command takes; `endpoint show` also takes --endpoint. */
export interface Filters {
  host?: string;
  orchestrator?: string;
  workload?: string;
  endpoint?: string;
}

export const FILTER_OPTIONS: readonly OptionSpec[] = [
  { flags: '--host <HOSTNAME>', description: 'only endpoints on this host' },
  { flags: '--orchestrator <ORCHESTRATOR_ID>', description: 'only endpoints made by this orchestrator (libnetwork for Docker networks)' },
  { flags: '--workload <WORKLOAD_ID>', description: 'only endpoints of this workload' },
];

export const ENDPOINT_OPTION: OptionSpec = { flags: '--endpoint <ENDPOINT_ID>', description: 'only this endpoint' };

/** The `<ENDPOINT_ID>` typed between `endpoint` and `profile` (argv.ts moves it after the verb). */
export const ENDPOINT_ARG: ArgumentSpec = { syntax: '<ENDPOINT_ID>', key: 'id' };
export const PROFILES_ARG: ArgumentSpec = { syntax: '[PROFILES...]', key: 'names' };

/** The usage line of `endpoint <ENDPOINT_ID> profile <verb>`. */
export function profileUsage(verb: string, takesProfiles: boolean): string {
  return `endpoint <ENDPOINT_ID> profile ${verb} [--host=<HOSTNAME>] [--orchestrator=<ORCHESTRATOR_ID>] [--workload=<WORKLOAD_ID>]${takesProfiles ? ' [<PROFILES>...]' : ''}`;
}

const MULTIPLE = 'More than 1 endpoint matches the provided criteria.  Please provide additional parameters to refine the search.';

export async function findEndpoints(ctx: CommandContext, filters: Filters): Promise<Endpoint[]> {
  const endpoints = await ctx.endpoints().list(filters.host);
  return endpoints.filter(
    (e) =>
      (filters.orchestrator === undefined || e.orchestrator === filters.orchestrator) &&
      (filters.workload === undefined || e.workload === filters.workload) &&
      (filters.endpoint === undefined || e.endpoint === filters.endpoint),
  );
}

export async function findEndpoint(ctx: CommandContext, filters: Filters): Promise<Endpoint> {
  const matches = await findEndpoints(ctx, filters);
  if (matches.length === 0) throw new CommandError(`Endpoint ${filters.endpoint} is unknown to Calico.`);
  if (matches.length > 1) throw new CommandError(MULTIPLE);
  return matches[0] as Endpoint;
}
