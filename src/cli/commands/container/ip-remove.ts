import { EndpointWriter } from '../../../datastore/endpoints';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { plainAddress, releaseQuietly } from './address';
import { CONTAINER_ARG, INTERFACE_OPTION, kernelError, liveWorkload, onlyEndpoint, requireRoot, workloadEndpoints } from './workload';

interface IpOptions {
  container: string;
  ip: string;
  interface: string;
}

export default command<IpOptions>({
  path: ['container', 'ip', 'remove'],
  usage: 'container <CONTAINER> ip remove <IP> [--interface=<INTERFACE>]',
  summary: 'Take one address off a Calico-networked container, and free it',
  args: [CONTAINER_ARG, { syntax: '<IP>', key: 'ip', description: 'one of its addresses' }],
  options: [INTERFACE_OPTION],
  writes: true,
  run: ipRemove,
});

async function ipRemove(options: IpOptions, ctx: CommandContext): Promise<void> {
  requireRoot(ctx);
  const { version, address } = plainAddress(options.ip);
  const { workload, links: ns } = await liveWorkload(ctx, options.container);
  const endpoint = onlyEndpoint(options.container, await workloadEndpoints(ctx, workload));
  const net = `${address}/${version === 4 ? 32 : 128}`;
  const field = version === 4 ? 'ipv4Nets' : 'ipv6Nets';
  const notAssigned = () => new CommandError(`IP address ${address} is not assigned to ${options.container}.`);
  if (!endpoint[field].includes(net)) throw notAssigned();
  if (!(await ns.exists(options.interface))) throw new CommandError(`Interface ${options.interface} does not exist in ${options.container}.`);

  // etcd first, so the agent stops routing the address before the container stops answering on it.
  const writer = new EndpointWriter(ctx.kv());
  await writer.edit(endpoint, (current) => {
    if (!current[field].includes(net)) throw notAssigned();
    return { value: { ...current, [field]: current[field].filter((n) => n !== net) }, result: undefined };
  });
  try {
    await ns.removeAddress(options.interface, address, version);
  } catch (error) {
    // Put the address back in etcd: the container still has it.
    await writer.edit(endpoint, (current) => ({ value: { ...current, [field]: [...current[field], net] }, result: undefined })).catch(() => undefined);
    throw kernelError(options.container, error);
  }
  await releaseQuietly(ctx, [address]);
  ctx.io.out.write(`IP ${address} removed from ${options.container}\n`);
}
