import { randomUUID } from 'node:crypto';
import { EndpointWriter, type Endpoint } from '../../../datastore/endpoints';
import { CONTAINER_MAC, hostVethName, tempVethName } from '../../../host/links';
import { GATEWAY_IPV4 } from '../../../host/links';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { thisHostname } from '../node/agent';
import { addressRequest, assignAddress, releaseQuietly } from './address';
import {
  CONTAINER_ARG,
  INTERFACE_OPTION,
  IP_ARG,
  ipv6Gateway,
  kernelError,
  liveWorkload,
  requireRoot,
  rootLinks,
  workloadEndpoints,
} from './workload';

interface AddOptions {
  container: string;
  ip: string;
  interface: string;
}

export default command<AddOptions>({
  path: ['container', 'add'],
  usage: 'container add <CONTAINER> <IP> [--interface=<INTERFACE>]',
  summary: "Give a running container an interface on Calico's network, with one address",
  help: `
The container may have been started with --net=none, or be on Docker's bridge: the Calico
interface is then an extra one. Its default route goes through Calico. The endpoint has no
profile until one is set with 'calicoctl container <CONTAINER> profile set <PROFILE>'.

Examples:
  calicoctl container add web 192.168.0.5
  calicoctl container add web ipv4 --interface=eth2
  calicoctl container add web 192.168.0.0/16
  calicoctl container add /var/run/netns/blue 192.168.0.6`,
  args: [CONTAINER_ARG, IP_ARG],
  options: [INTERFACE_OPTION],
  writes: true,
  run: add,
});

async function add(options: AddOptions, ctx: CommandContext): Promise<void> {
  requireRoot(ctx);
  const request = await addressRequest(options.ip, ctx);
  const { workload, links: ns } = await liveWorkload(ctx, options.container);
  const hostname = thisHostname(ctx);
  const already = () => new CommandError(`${options.container} has already been configured with Calico Networking.`);
  if ((await workloadEndpoints(ctx, workload)).length > 0) throw already();
  if (await ns.exists(options.interface)) throw new CommandError(`${options.container} already has an interface ${options.interface}: name another with --interface.`);

  // From here on every step is undone if a later one fails, so a failure leaves nothing behind.
  const { version, address } = await assignAddress(request, hostname, workload.id, ctx);
  const endpointId = randomUUID().replace(/-/g, '');
  const hostName = hostVethName(endpointId);
  const links = rootLinks(ctx);
  let plumbed = false;
  try {
    try {
      await links.createVeth(hostName, tempVethName(endpointId));
      plumbed = true;
      await ns.adopt(tempVethName(endpointId), options.interface);
      await ns.addAddress(options.interface, address, version);
      const gateway = version === 4 ? GATEWAY_IPV4 : await ipv6Gateway(links, hostName, ctx.options.dryRun);
      await ns.routeVia(options.interface, version, gateway);
    } catch (error) {
      throw kernelError(options.container, error);
    }
    const endpoint: Endpoint = {
      hostname,
      orchestrator: workload.orchestrator,
      workload: workload.id,
      endpoint: endpointId,
      state: 'active',
      name: hostName,
      mac: CONTAINER_MAC.toUpperCase(),
      profileIds: [],
      ipv4Nets: version === 4 ? [`${address}/32`] : [],
      ipv6Nets: version === 6 ? [`${address}/128`] : [],
      labels: {},
    };
    // A concurrent `container add` of the same container may have got there first.
    if (!(await new EndpointWriter(ctx.kv()).createFirst(endpoint))) throw already();
  } catch (error) {
    // Deleting the host end deletes the container end too, wherever it got to.
    if (plumbed) await links.deleteLink(hostName).catch(() => undefined);
    await releaseQuietly(ctx, [address]);
    throw error;
  }
  ctx.io.out.write(`IP ${address} added to ${options.container}\n`);
}
