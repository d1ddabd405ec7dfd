import type { Endpoint } from '../../../datastore/endpoints';
import type { Profile } from '../../../datastore/profiles';
import { ruleSetToV1 } from '../../../policy/codec';
import type { CommandContext } from '../../context';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, QUIET_OPTION, renderData } from '../../output';
import { command } from '../../spec';
import { renderTable, sortRows } from '../../table';
import { printableLines } from '../../printable';

const DETAILED_HEADERS = ['Name', 'Host', 'Orchestrator ID', 'Workload ID', 'Endpoint ID', 'State'];

export default command<{ detailed?: boolean; output: OutputFormat; quiet?: boolean }>({
  path: ['profile', 'show'],
  synopsis: 'profile show [--detailed]',
  summary: 'List the profiles (names as stored: network profiles show their network ID)',
  options: [{ flags: '--detailed', description: 'also list the endpoints that use each profile' }, OUTPUT_OPTION, QUIET_OPTION],
  writes: false,
  async run(options, ctx) {
    if (options.quiet || options.output === 'table') {
      const ids = (await ctx.profiles().list()).sort();
      if (options.quiet) ctx.io.out.write(printableLines(ids));
      else if (!options.detailed) ctx.io.out.write(renderTable(['Name'], sortRows(ids.map((id) => [id]))));
      else ctx.io.out.write(renderTable(DETAILED_HEADERS, sortRows(detailedRows(ids, await ctx.endpoints().list()))));
      return;
    }
    const [profiles, endpoints, names] = await Promise.all([ctx.profiles().listAll(), ctx.endpoints().list(), networkNames(ctx)]);
    profiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (isDataFormat(options.output)) {
      ctx.io.out.write(renderData(options.output, profiles.map((p) => profileDocument(p, names.get(p.id), options.detailed ? endpoints : undefined))));
      return;
    }
    const rows = profiles.map((p) => [
      p.id,
      names.get(p.id) ?? '',
      p.tags.map((tag) => names.get(tag) ?? tag).join(','),
      String(p.rules.inbound.length),
      String(p.rules.outbound.length),
      String(endpoints.filter((e) => e.profileIds.includes(p.id)).length),
    ]);
    ctx.io.out.write(renderTable(['Name', 'Network', 'Tags', 'Inbound rules', 'Outbound rules', 'Endpoints'], rows));
  },
});

/** One row per (profile, endpoint) membership; a profile nobody uses gets a row of None. */
export function detailedRows(ids: readonly string[], endpoints: readonly Endpoint[]): string[][] {
  return ids.flatMap((id) => {
    const users = endpoints.filter((endpoint) => endpoint.profileIds.includes(id));
    if (users.length === 0) return [[id, 'None', 'None', 'None', 'None', 'None']];
    return users.map((e) => [id, e.hostname, e.orchestrator, e.workload, e.endpoint, e.state]);
  });
}

/** The documented shape of `profile show -o json|yaml`: the profile as stored, plus its network's name. */
export function profileDocument(profile: Profile, network: string | undefined, endpoints?: readonly Endpoint[]): Record<string, unknown> {
  return {
    name: profile.id,
    network: network ?? null,
    tags: profile.tags,
    rules: ruleSetToV1(profile.rules),
    labels: profile.labels,
    ...(endpoints && {
      endpoints: endpoints
        .filter((e) => e.profileIds.includes(profile.id))
        .map((e) => ({ hostname: e.hostname, orchestrator: e.orchestrator, workload: e.workload, endpoint: e.endpoint, state: e.state })),
    }),
  };
}

/** Network ID -> name, or nothing when Docker cannot be asked (the IDs then stand alone). */
async function networkNames(ctx: CommandContext): Promise<Map<string, string>> {
  try {
    const directory = await ctx.networks();
    return new Map(directory.all().map((n) => [n.id, n.name]));
  } catch (error) {
    ctx.io.err.write(`Warning: network names are not shown: ${(error as Error).message}\n`);
    return new Map();
  }
}
