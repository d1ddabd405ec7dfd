import { isCalicoInterface } from '../../../agent/contract';
import { HostStore } from '../../../datastore/hosts';
import { IpamStore } from '../../../datastore/ipam';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';
import { command } from '../../spec';
import { runningAgent, thisHostname } from './agent';

export default command<{ hostname?: string; removeEndpoints?: boolean }>({
  path: ['node', 'remove'],
  summary: "Remove a host's records from etcd (its endpoints too with --remove-endpoints)",
  options: [
    { flags: '--hostname <HOSTNAME>', description: 'the host to remove (default: this host)' },
    { flags: '--remove-endpoints', description: "also remove the host's endpoints and release their addresses" },
  ],
  writes: true,
  run: (options, ctx) => removeNode(ctx, options),
});

async function removeNode(ctx: CommandContext, options: { hostname?: string; removeEndpoints?: boolean }): Promise<void> {
  const target = options.hostname ?? thisHostname(ctx);
  if (!/^[A-Za-z0-9_.-]+$/.test(target)) throw new UsageError(`Invalid --hostname '${target}'.`);
  if (target === thisHostname(ctx) && (await runningAgent(ctx))) {
    throw new CommandError("The node cannot be removed while it is running.  Please run 'calicoctl node stop' to stop the node before removing it.");
  }
  const endpoints = await ctx.endpoints().list(target);
  if (endpoints.length > 0 && !options.removeEndpoints) {
    throw new CommandError(`The node has active Calico endpoints so can't be deleted. Force with --remove-endpoints (${endpoints.length} endpoints on ${target}).`);
  }
  // Its addresses are freed and its blocks given up, so that BIRD elsewhere withdraws their routes.
  await new IpamStore(ctx.kv()).releaseHost(target);
  if (target === thisHostname(ctx)) {
    for (const endpoint of endpoints) {
      if (!isCalicoInterface(endpoint.name)) {
        ctx.io.err.write(`Warning: not deleting the interface ${JSON.stringify(endpoint.name)} of endpoint ${endpoint.endpoint}: Calico only deletes its own cali interfaces.\n`);
        continue;
      }
      if (ctx.options.dryRun) {
        ctx.io.out.write(`Would delete the interface ${endpoint.name}\n`);
        continue;
      }
      try {
        await ctx.deps.runner.run('ip', ['link', 'del', endpoint.name]);
      } catch {
        // The container (and so the veth) may be gone already.
      }
    }
  }
  await new HostStore(ctx.kv()).remove(target);
  ctx.io.out.write('Node configuration removed\n');
}
