import type { Endpoint } from '../../../datastore/endpoints';
import type { CommandContext } from '../../context';
import { command } from '../../spec';
import { renderTable, sortRows } from '../../table';
import { ENDPOINT_ARG, FILTER_OPTIONS, type Filters, findEndpoint, profileUsage } from './filters';

export default command<Filters & { id: string }>({
  path: ['endpoint', 'profile', 'show'],
  usage: profileUsage('show', false),
  summary: 'List the profiles',
  args: [ENDPOINT_ARG],
  options: FILTER_OPTIONS,
  writes: false,
  async run({ id, ...filters }, ctx) {
    showProfiles(await findEndpoint(ctx, { ...filters, endpoint: id }), ctx);
  },
});

/** An endpoint's profiles, as `endpoint … profile show` and `container … profile show` list them. */
export function showProfiles(target: Endpoint, ctx: CommandContext): void {
  if (target.profileIds.length === 0) {
    ctx.io.out.write('Endpoint has no profiles associated with it.\n');
    return;
  }
  ctx.io.out.write(`${renderTable(['Name'], sortRows(target.profileIds.map((name) => [name])))}\n`);
}
