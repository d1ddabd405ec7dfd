import { ROUTE_PROTOCOL } from '../../../agent/dataplane/contract';
import { EndpointWriter } from '../../../datastore/endpoints';
import { IpamStore } from '../../../datastore/ipam';
import { HOSTS } from '../../../datastore/keys';
import type { CommandContext } from '../../context';
import type { Fix } from './check';

/**
 * Applies one of check.ts's safe fixes: a single etcd transaction guarded by what the check read,
 * or a single kernel command on an object with our prefix. Resolves to why it was not applied, or
 * undefined when it was.
 */
export async function applyFix(ctx: CommandContext, fix: Fix): Promise<string | undefined> {
  const { runner } = ctx.deps;
  switch (fix.kind) {
    case 'release-address': {
      // Still unused only if no endpoint was written (on any host) since the check read them.
      const done = await new IpamStore(ctx.kv()).releaseIfUnchanged(fix.address, fix.blockRevision, [{ prefix: HOSTS, since: fix.endpointsRevision }]);
      return done ? undefined : 'its block or the endpoints changed since the check';
    }
    case 'delete-endpoint':
      return (await new EndpointWriter(ctx.kv()).removeIfUnchanged(fix.key, fix.modRevision)) ? undefined : 'the endpoint changed since the check';
    case 'delete-chain': {
      // The jumps into the chain go first, in the same restore, or the kernel refuses to delete it.
      const lines = [...fix.references.map((rule) => `-D ${rule}`), `:${fix.name} - [0:0]`, `-X ${fix.name}`];
      await runner.run(fix.family === 4 ? 'iptables-restore' : 'ip6tables-restore', ['--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`);
      return undefined;
    }
    case 'destroy-set':
      await runner.run('ipset', ['destroy', fix.name]);
      return undefined;
    case 'delete-route': {
      const { family, net, iface } = fix.route;
      const where = iface === undefined ? ['blackhole', net] : [net, 'dev', iface];
      await runner.run('ip', [`-${family}`, 'route', 'del', ...where, 'proto', ROUTE_PROTOCOL]);
      return undefined;
    }
    case 'delete-link':
      await runner.run('ip', ['link', 'del', fix.name]);
      return undefined;
  }
}
