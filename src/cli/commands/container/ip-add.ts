import { EndpointWriter } from '../../../datastore/endpoints';
import { GATEWAY_IPV4 } from '../../../host/links';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { thisHostname } from '../node/agent';
import { addressRequest, assignAddress, releaseQuietly } from './address';
import { CONTAINER_ARG, INTERFACE_OPTION, IP_ARG, ipv6Gateway, kernelError, liveWorkload, onlyEndpoint, requireRoot, rootLinks, workloadEndpoints } from './workload';

interface IpOptions {
  container: string;
  ip: string;
  interface: string;
}

export default command<IpOptions>({
  path: ['container', 'ip', 'add'],
  usage: 'container <CONTAINER> ip add <IP> [--interface=<INTERFACE>]',
  summary: "Give a Calico-networked container one more address on its Calico interface",
  args: [CONTAINER_ARG, IP_ARG],
  options: [INTERFACE_OPTION],
  writes: true,
  run: ipAdd,
});

async function ipAdd(options: IpOptions, ctx: CommandContext): Promise<void> {
  requireRoot(ctx);
  const request = await addressRequest(options.ip, ctx);
  const { workload, links: ns } = await liveWorkload(ctx, options.container);
  const endpoint = onlyEndpoint(options.container, await workloadEndpoints(ctx, workload));
  if (!(await ns.exists(options.interface))) throw new CommandError(`Interface ${options.interface} does not exist in ${options.container}.`);

  const { version, address } = await assignAddress(request, thisHostname(ctx), workload.id, ctx);
  const net = `${address}/${version === 4 ? 32 : 128}`;
  let added = false;
  try {
    try {
      await ns.addAddress(options.interface, address, version);
      added = true;
      // The family's first address: its traffic has no route out of the Calico interface yet.
      const firstOfFamily = (version === 4 ? endpoint.ipv4Nets : endpoint.ipv6Nets).length === 0;
      if (firstOfFamily) await ns.routeVia(options.interface, version, version === 4 ? GATEWAY_IPV4 : await ipv6Gateway(rootLinks(ctx), endpoint.name, ctx.options.dryRun));
    } catch (error) {
      throw kernelError(options.container, error);
    }
    await new EndpointWriter(ctx.kv()).edit(endpoint, (current) => {
      const field = version === 4 ? 'ipv4Nets' : 'ipv6Nets';
      return { value: { ...current, [field]: [...current[field], net] }, result: undefined };
    });
  } catch (error) {
    if (added) await ns.removeAddress(options.interface, address, version).catch(() => undefined);
    await releaseQuietly(ctx, [address]);
    throw error;
  }
  ctx.io.out.write(`IP ${address} added to ${options.container}\n`);
}
