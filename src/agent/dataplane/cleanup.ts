import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { CHAIN_PREFIX, IPSET_PREFIXES, ROUTE_PROTOCOL, TOP_CHAINS } from './contract';

/**
 * `calico-node --cleanup`: removes everything the agent creates, and nothing else: the jumps from
 * the kernel chains, every chain and set with our prefix, the routes marked with our protocol, and
 * the routes BIRD installed (`proto bird`: its blackholes for this host's blocks, and the other
 * hosts' routes, which BIRD leaves behind on purpose when it stops). Containers on Calico networks
 * lose connectivity until an agent runs again.
 */
export async function cleanupDataplane(runner: CommandRunner, log: Logger): Promise<void> {
  for (const family of [4, 6] as const) {
    const save = family === 4 ? 'iptables-save' : 'ip6tables-save';
    const restore = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
    let text: string;
    try {
      text = await runner.run(save, ['-t', 'filter']);
    } catch {
      continue; // no IPv6 filtering on this host
    }
    const ours = new Set(Object.values(TOP_CHAINS) as string[]);
    const jumps = [...text.matchAll(/^-A (INPUT|FORWARD|OUTPUT) -j (\S+)$/gm)].filter((m) => ours.has(m[2] as string)).map((m) => `-D ${m[1]} -j ${m[2]}`);
    const chains = [...text.matchAll(/^:(\S+)/gm)].map((m) => m[1] as string).filter((name) => name.startsWith(CHAIN_PREFIX));
    if (jumps.length === 0 && chains.length === 0) continue;
    const lines = [...jumps, ...chains.map((name) => `:${name} - [0:0]`), ...chains.map((name) => `-X ${name}`)];
    await runner.run(restore, ['--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`);
    log.info(`IPv${family}: removed ${jumps.length} jumps and ${chains.length} chains`);
  }
  const sets = (await runner.run('ipset', ['list', '-n'])).split('\n').filter((name) => IPSET_PREFIXES.some((prefix) => name.startsWith(prefix)));
  if (sets.length > 0) {
    await runner.run('ipset', ['restore'], `${sets.map((name) => `destroy ${name}`).join('\n')}\n`);
    log.info(`Removed ${sets.length} ipsets`);
  }
  for (const family of [4, 6] as const) {
    for (const proto of [ROUTE_PROTOCOL, 'bird']) {
      try {
        await runner.run('ip', [`-${family}`, 'route', 'flush', 'proto', proto]);
      } catch (error) {
        log.warning(`Could not remove IPv${family} routes: ${(error as Error).message}`);
      }
    }
  }
}
