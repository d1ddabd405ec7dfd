import { Command } from 'commander';
import { type Endpoint, EndpointWriter } from '../datastore/endpoints';
import { CommandError, UsageError } from './errors';
import { checkProfileName } from './names';
import { isDataFormat, type OutputFormat, outputOption, quietOption, renderData } from './output';
import type { Session } from './session';
import { renderTable, sortRows } from './table';

interface Filters {
  host?: string;
  orchestrator?: string;
  workload?: string;
  endpoint?: string;
}

const MULTIPLE = 'More than 1 endpoint matches the provided criteria.  Please provide additional parameters to refine the search.';

/** `calicoctl endpoint show` and `endpoint <ENDPOINT_ID> profile append|remove|set|show`. */
export function makeEndpointCommand(session: Session): Command {
  const endpoint = new Command('endpoint').description('Show workload endpoints and change the profiles they use');
  const filters = (command: Command, withEndpoint: boolean) => {
    command
      .option('--host <HOSTNAME>', 'only endpoints on this host')
      .option('--orchestrator <ORCHESTRATOR_ID>', 'only endpoints made by this orchestrator (libnetwork for Docker networks)')
      .option('--workload <WORKLOAD_ID>', 'only endpoints of this workload');
    if (withEndpoint) command.option('--endpoint <ENDPOINT_ID>', 'only this endpoint');
    return command;
  };

  filters(endpoint.command('show').description('Summarise endpoints per host, or list them with --detailed'), true)
    .option('--detailed', 'one row per endpoint, with addresses, MAC, profiles and state')
    .addOption(outputOption())
    .addOption(quietOption())
    .action(async (options: Filters & { detailed?: boolean; output: OutputFormat; quiet?: boolean }) => {
      const ctx = session.context();
      const endpoints = await find(session, options);
      if (options.quiet) {
        ctx.io.out.write(endpoints.map((e) => `${e.endpoint}\n`).sort().join(''));
        return;
      }
      if (isDataFormat(options.output)) {
        const documents = endpoints.map((e) => ({
          hostname: e.hostname,
          orchestrator: e.orchestrator,
          workload: e.workload,
          endpoint: e.endpoint,
          state: e.state,
          name: e.name,
          mac: e.mac,
          profile_ids: e.profileIds,
          ipv4_nets: e.ipv4Nets,
          ipv6_nets: e.ipv6Nets,
          labels: e.labels,
        }));
        ctx.io.out.write(renderData(options.output, documents.sort((a, b) => (`${a.hostname}/${a.endpoint}` < `${b.hostname}/${b.endpoint}` ? -1 : 1))));
        return;
      }
      if (options.detailed || options.output === 'wide') {
        const rows = endpoints.map((e) => [e.hostname, e.orchestrator, e.workload, e.endpoint, [...e.ipv4Nets, ...e.ipv6Nets].join('\n'), e.mac, e.profileIds.join(','), e.state]);
        const headers = ['Hostname', 'Orchestrator ID', 'Workload ID', 'Endpoint ID', 'Addresses', 'MAC', 'Profiles', 'State'];
        ctx.io.out.write(`${renderTable(headers, sortRows(rows))}\n`);
        return;
      }
      const summary = new Map<string, { host: string; orchestrator: string; workloads: Set<string>; count: number }>();
      for (const e of endpoints) {
        const key = JSON.stringify([e.hostname, e.orchestrator]);
        const entry = summary.get(key) ?? { host: e.hostname, orchestrator: e.orchestrator, workloads: new Set(), count: 0 };
        entry.workloads.add(e.workload);
        entry.count++;
        summary.set(key, entry);
      }
      const rows = [...summary.values()].map((s) => [s.host, s.orchestrator, String(s.workloads.size), String(s.count)]);
      ctx.io.out.write(`${renderTable(['Hostname', 'Orchestrator ID', 'Number of Workloads', 'Number of Endpoints'], sortRows(rows))}\n`);
    });

  const profile = new Command('profile').description("Show or change the profiles an endpoint uses (in order)");
  const edit = (verb: 'append' | 'remove' | 'set', description: string) =>
    filters(profile.command(verb).description(description).argument('<ENDPOINT_ID>').argument('[PROFILES...]'), false).action(
      async (id: string, names: string[], options: Filters) => {
        names.forEach(checkProfileName);
        if (verb !== 'set' && names.length === 0) throw new UsageError('No profile specified.');
        const ctx = session.context();
        const target = await findOne(session, { ...options, endpoint: id });
        const existing = new Set(await ctx.profiles().list());
        for (const name of names) if (!existing.has(name)) throw new CommandError(`Profile with name ${name} was not found.`);
        const outcome = await new EndpointWriter(ctx.kv()).editProfiles(target, (current) => profileEdit(verb, current, names));
        if (!outcome) throw new CommandError(`Endpoint ${id} is unknown to Calico.`);
        ctx.io.out.write(`${outcome.result}\n`);
      },
    );
  edit('append', 'Add profiles at the end of the list');
  edit('remove', 'Remove profiles from the list');
  edit('set', 'Replace the whole list (none: remove them all)');

  filters(profile.command('show').description('List the profiles').argument('<ENDPOINT_ID>'), false).action(async (id: string, options: Filters) => {
    const ctx = session.context();
    const target = await findOne(session, { ...options, endpoint: id });
    if (target.profileIds.length === 0) {
      ctx.io.out.write('Endpoint has no profiles associated with it.\n');
      return;
    }
    ctx.io.out.write(`${renderTable(['Name'], sortRows(target.profileIds.map((name) => [name])))}\n`);
  });

  endpoint.addCommand(profile);
  return endpoint;
}

/** The new profile list and the message, or a refusal. */
export function profileEdit(verb: 'append' | 'remove' | 'set', current: readonly string[], names: readonly string[]): { value?: readonly string[]; result: string } {
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

async function find(session: Session, filters: Filters): Promise<Endpoint[]> {
  const endpoints = await session.context().endpoints().list(filters.host);
  return endpoints.filter(
    (e) =>
      (filters.orchestrator === undefined || e.orchestrator === filters.orchestrator) &&
      (filters.workload === undefined || e.workload === filters.workload) &&
      (filters.endpoint === undefined || e.endpoint === filters.endpoint),
  );
}

async function findOne(session: Session, filters: Filters): Promise<Endpoint> {
  const matches = await find(session, filters);
  if (matches.length === 0) throw new CommandError(`Endpoint ${filters.endpoint} is unknown to Calico.`);
  if (matches.length > 1) throw new CommandError(MULTIPLE);
  return matches[0] as Endpoint;
}
