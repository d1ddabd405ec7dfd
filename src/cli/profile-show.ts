import { Command } from 'commander';
import type { Endpoint } from '../datastore/endpoints';
import type { Session } from './session';
import { renderTable, sortRows } from './table';

const DETAILED_HEADERS = ['Name', 'Host', 'Orchestrator ID', 'Workload ID', 'Endpoint ID', 'State'];

export function makeProfileShowCommand(session: Session): Command {
  return new Command('show')
    .description('List the profiles (names as stored: network profiles show their network ID)')
    .option('--detailed', 'also list the endpoints that use each profile')
    .action(async (options: { detailed?: boolean }) => {
      const ctx = session.context();
      const ids = await ctx.profiles().list();
      if (!options.detailed) {
        ctx.io.out.write(renderTable(['Name'], sortRows(ids.map((id) => [id]))));
        return;
      }
      const endpoints = await ctx.endpoints().list();
      ctx.io.out.write(renderTable(DETAILED_HEADERS, sortRows(detailedRows(ids, endpoints))));
    });
}

/** One row per (profile, endpoint) membership; a profile nobody uses gets a row of None. */
export function detailedRows(ids: readonly string[], endpoints: readonly Endpoint[]): string[][] {
  return ids.flatMap((id) => {
    const users = endpoints.filter((endpoint) => endpoint.profileIds.includes(id));
    if (users.length === 0) return [[id, 'None', 'None', 'None', 'None', 'None']];
    return users.map((e) => [id, e.hostname, e.orchestrator, e.workload, e.endpoint, e.state]);
  });
}
