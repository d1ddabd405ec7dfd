import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { CHAIN_PREFIX, isOurSet, NAT_TOP_CHAINS, ROUTE_PROTOCOL, TOP_CHAINS, TUNNEL_ROUTE_PROTOCOL } from './contract';

/**
 * `calico-node --cleanup`: removes everything the agent creates, and nothing else: the jumps from
 * the kernel chains, every chain and set with our prefix, the routes marked with our protocol, and
 * the IPIP routes through tunl0 (their own protocol), the routes BIRD installed (`proto bird`: its blackholes for this host's blocks, and the other
 * hosts' routes, which BIRD leaves behind on purpose when it stops). Containers on Calico networks
 * lose connectivity until an agent runs again.
 */
export async function cleanupDataplane(runner: CommandRunner, log: Logger): Promise<void> {
  const tables = [
    [4, 'filter', TOP_CHAINS],
    [6, 'filter', TOP_CHAINS],
    [4, 'nat', NAT_TOP_CHAINS],
  ] as const;
  for (const [family, table, top] of tables) {
    const save = family === 4 ? 'iptables-save' : 'ip6tables-save';
    const restore = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
    let text: string;
    try {
      text = await runner.run(save, ['-t', table]);
    } catch {
      continue; // no IPv6 filtering (or no nat table) on this host
    }
    const ours = new Map(Object.entries(top).map(([kernel, chain]) => [chain as string, kernel]));
    const jumps = [...text.matchAll(/^-A (\S+) -j (\S+)$/gm)].filter((m) => ours.get(m[2] as string) === m[1]).map((m) => `-D ${m[1]} -j ${m[2]}`);
    const chains = [...text.matchAll(/^:(\S+)/gm)].map((m) => m[1] as string).filter((name) => name.startsWith(CHAIN_PREFIX));
    if (jumps.length === 0 && chains.length === 0) continue;
    const lines = [...jumps, ...chains.map((name) => `:${name} - [0:0]`), ...chains.map((name) => `-X ${name}`)];
    await runner.run(restore, ['--noflush'], `*${table}\n${lines.join('\n')}\nCOMMIT\n`);
    log.info(`IPv${family}${table === 'nat' ? ' nat' : ''}: removed ${jumps.length} jumps and ${chains.length} chains`);
  }
  const sets = (await runner.run('ipset', ['list', '-n'])).split('\n').filter((name) => isOurSet(name));
  if (sets.length > 0) {
    await runner.run('ipset', ['restore'], `${sets.map((name) => `destroy ${name}`).join('\n')}\n`);
    log.info(`Removed ${sets.length} ipsets`);
  }
  for (const family of [4, 6] as const) {
    for (const proto of family === 4 ? [ROUTE_PROTOCOL, TUNNEL_ROUTE_PROTOCOL, 'bird'] : [ROUTE_PROTOCOL, 'bird']) {
      try {
        await runner.run('ip', [`-${family}`, 'route', 'flush', 'proto', proto]);
      } catch (error) {
        log.warning(`Could not remove IPv${family} routes: ${(error as Error).message}`);
      }
    }
  }
}
