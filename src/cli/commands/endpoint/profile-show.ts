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
    const target = await findEndpoint(ctx, { ...filters, endpoint: id });
    if (target.profileIds.length === 0) {
      ctx.io.out.write('Endpoint has no profiles associated with it.\n');
      return;
    }
    ctx.io.out.write(`${renderTable(['Name'], sortRows(target.profileIds.map((name) => [name])))}\n`);
  },
});
