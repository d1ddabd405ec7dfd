import { command } from '../../spec';
import { detailedTable } from '../endpoint/show';
import { CONTAINER_ARG, onlyEndpoint, workloadOf } from './workload';

export default command<{ container: string }>({
  path: ['container', 'endpoint', 'show'],
  usage: 'container <CONTAINER> endpoint show',
  summary: "Show the container's endpoint: addresses, MAC, profiles, state",
  args: [CONTAINER_ARG],
  writes: false,
  async run(options, ctx) {
    const { endpoints } = await workloadOf(ctx, options.container);
    onlyEndpoint(options.container, endpoints.slice(0, 1)); // none: unknown to Calico
    ctx.io.out.write(detailedTable(endpoints));
  },
});
