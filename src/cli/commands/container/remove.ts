import { EndpointWriter } from '../../../datastore/endpoints';
import { hostVethName } from '../../../host/links';
import { command } from '../../spec';
import { thisHostname } from '../node/agent';
import { releaseQuietly } from './address';
import { CONTAINER_ARG, kernelError, onlyEndpoint, requireRoot, rootLinks, workloadOf } from './workload';

export default command<{ container: string }>({
  path: ['container', 'remove'],
  usage: 'container remove <CONTAINER>',
  summary: "Take a container off Calico's network: its interface, addresses and endpoint",
  help: `
The container may have been deleted already: its endpoint is then named by the container's full ID.`,
  args: [CONTAINER_ARG],
  writes: true,
  async run(options, ctx) {
    requireRoot(ctx);
    const { workload, endpoints } = await workloadOf(ctx, options.container);
    onlyEndpoint(options.container, endpoints.slice(0, 1)); // none: unknown to Calico
    // The interfaces first: if one cannot be deleted, etcd still says what there is to clean up.
    const links = rootLinks(ctx);
    for (const endpoint of endpoints) {
      // Only a name this tool gives: a stored value must never make calicoctl delete another interface.
      if (endpoint.name !== hostVethName(endpoint.endpoint)) continue;
      try {
        await links.deleteLink(endpoint.name);
      } catch (error) {
        throw kernelError(options.container, error);
      }
    }
    await new EndpointWriter(ctx.kv()).removeWorkload({ hostname: thisHostname(ctx), orchestrator: workload.orchestrator, workload: workload.id });
    await releaseQuietly(ctx, endpoints.flatMap((e) => [...e.ipv4Nets, ...e.ipv6Nets].map((net) => net.split('/')[0] as string)));
    ctx.io.out.write(`Removed Calico from ${options.container}\n`);
  },
});
