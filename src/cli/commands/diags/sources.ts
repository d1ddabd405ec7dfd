import { join } from 'node:path';
import { BIRD_FAMILIES, STATE_DIR } from '../../../agent/contract';
import { ALL_POOLS_SET, type Family, IPSET_PREFIXES, isValidInterface, MASQ_POOLS_SET, ROUTE_PROTOCOL } from '../../../agent/dataplane/contract';
import { decodeBlock, OWNER, addressAt } from '../../../datastore/blocks';
import { decodeEndpoint } from '../../../datastore/endpoints';
import { type CorruptReporter, decodeEach } from '../../../datastore/errors';
import * as keys from '../../../datastore/keys';
import type { KeyValue } from '../../../datastore/kv';
import { decodePool } from '../../../datastore/pools';
import { decodeRules, decodeTags } from '../../../datastore/profiles';
import { cidrNetworkText } from '../../../policy/cidr';
import type { CommandContext } from '../../context';
import type { BirdView, BlockView, CheckInput, DockerView, EndpointView, EtcdView, KernelRoute, KernelView } from './check';
import { normalNet } from './check';

/**
 * The thin readers of `diags --check`: each turns one source's own output into the views that
 * check.ts compares. A source that cannot be read is skipped with a note; etcd is the one that
 * must answer, since every comparison starts from it.
 */
export async function readSources(ctx: CommandContext, hostname: string, notes: string[]): Promise<CheckInput> {
  const etcd = await readEtcd(ctx, hostname, (error) => notes.push(`etcd: ${error.message} (skipped)`));
  const [kernel, bird, docker] = await Promise.all([
    readKernel(ctx).catch((error: Error) => void notes.push(`kernel: ${error.message}; kernel checks skipped`)),
    readBird(
      ctx,
      notes,
      etcd.blocks.filter((block) => block.affinity === hostname),
    ),
    readDocker(ctx).catch((error: Error) => void notes.push(`Docker: ${error.message.replace(/\.$/, '')}; container checks skipped`)),
  ]);
  return { hostname, etcd, ...(kernel && { kernel }), ...(bird && { bird }), ...(docker && { docker }) };
}

/** One read of /calico/, so every view is of one revision. */
async function readEtcd(ctx: CommandContext, hostname: string, report: CorruptReporter): Promise<EtcdView> {
  const { kvs, revision } = await ctx.kv().getPrefix('/calico/');
  const endpoints = decodeEach(
    kvs,
    (kv): EndpointView | undefined => {
      const key = keys.parseEndpointKey(kv.key);
      if (!key) return undefined;
      const e = decodeEndpoint(key, kv.key, kv.value);
      return { key: kv.key, modRevision: kv.modRevision, hostname: e.hostname, orchestrator: e.orchestrator, endpointId: e.endpoint, iface: e.name, state: e.state, profileIds: e.profileIds, ipv4Nets: e.ipv4Nets, ipv6Nets: e.ipv6Nets };
    },
    report,
  );
  const profileKeys = new Map<string, Map<string, KeyValue>>();
  for (const kv of kvs) {
    const parsed = keys.parseProfileKey(kv.key);
    if (parsed) profileKeys.set(parsed.id, (profileKeys.get(parsed.id) ?? new Map()).set(parsed.leaf, kv));
  }
  const profiles = decodeEach(
    [...profileKeys].map(([id, leaves]) => ({ key: keys.profileDir(id), id, leaves })),
    ({ id, leaves }) => {
      const rules = decodeRules(leaves.get('rules'));
      const ruleTags = [...rules.inbound, ...rules.outbound].flatMap((rule) => [rule.from.tag, rule.to.tag]).filter((t): t is string => t !== undefined);
      return { id, tags: decodeTags(leaves.get('tags')), ruleTags: [...new Set(ruleTags)] };
    },
    report,
  );
  const pools = decodeEach(
    kvs.filter((kv) => keys.parsePoolKey(kv.key)),
    (kv) => decodePool(kv.key, kv.value),
    report,
  );
  const poolCidrs = pools.filter((pool) => pool.ipam !== false).map((pool) => cidrNetworkText(pool.cidr));
  const natPools = pools.filter((pool) => pool.cidr.version === 4).map((pool) => ({ cidr: cidrNetworkText(pool.cidr), masquerade: pool.masquerade === true }));
  const blocks = decodeEach(
    kvs.filter((kv) => kv.key.startsWith(keys.blockPrefix(4)) || kv.key.startsWith(keys.blockPrefix(6))),
    (kv): BlockView => {
      const block = decodeBlock(kv.key, kv.value);
      const assigned = block.allocations.flatMap((a, ordinal) => {
        if (a === null) return [];
        return [{ address: addressAt(block, ordinal), owner: block.attributes[a]?.secondary[OWNER] ?? block.affinity ?? '' }];
      });
      return { key: kv.key, modRevision: kv.modRevision, cidr: block.cidr, version: block.version, affinity: block.affinity, assigned };
    },
    report,
  );
  const affinities = kvs.map((kv) => keys.parseAffinityKey(kv.key)).filter((a) => a !== undefined && a.host === hostname).map((a) => ({ version: a!.version, cidr: a!.cidr }));
  const tunnelAddress = kvs.find((kv) => kv.key === keys.tunnelAddressKey(hostname))?.value;
  return { revision, endpoints, profiles, poolCidrs: [...new Set(poolCidrs)], blocks, affinities, natPools, ...(tunnelAddress !== undefined && { tunnelAddress }) };
}

async function readKernel(ctx: CommandContext): Promise<KernelView> {
  const { runner } = ctx.deps;
  const v4 = parseIptablesSave(await runner.run('iptables-save', ['-t', 'filter']));
  // A host without IPv6 filtering has no IPv6 chains to judge.
  const v6 = await runner.run('ip6tables-save', ['-t', 'filter']).then(parseIptablesSave, () => undefined);
  const names = (await runner.run('ipset', ['list', '-n'])).split('\n');
  const sets = names.filter((name) => IPSET_PREFIXES.some((prefix) => name.startsWith(prefix)));
  // Outgoing NAT: the nat table's chains and Felix's two sets with their members. A host whose
  // iptables has no nat table has no outgoing NAT to judge.
  const nat = await runner.run('iptables-save', ['-t', 'nat']).then(parseIptablesSave, () => undefined);
  const natSets = new Map<string, string[]>();
  for (const name of [ALL_POOLS_SET, MASQ_POOLS_SET].filter((n) => names.includes(n))) natSets.set(name, parseSetMembers(await runner.run('ipset', ['list', name])));
  const routes: KernelRoute[] = [];
  for (const family of [4, 6] as const) {
    const text = await runner.run('ip', [`-${family}`, 'route', 'show', 'proto', ROUTE_PROTOCOL]).catch(() => '');
    routes.push(...parseRoutes(text, family));
  }
  const links = parseLinks(await runner.run('ip', ['-o', 'link', 'show']));
  return { chains: { 4: v4, 6: v6 }, sets, routes, links, ...(nat && { nat, natSets }) };
}

/** `ipset list NAME`: the lines after `Members:`, in one spelling. */
export function parseSetMembers(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.trim() === 'Members:');
  return start < 0 ? [] : lines.slice(start + 1).map((line) => line.trim().split(' ')[0] as string).filter((m) => m !== '').map(normalNet);
}

/** The filter table of `iptables-save -t filter`: each chain with its rules (without `-A <chain> `). */
export function parseIptablesSave(text: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const declared = /^:(\S+)/.exec(line);
    if (declared) chains.set(declared[1] as string, chains.get(declared[1] as string) ?? []);
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (rule) chains.set(rule[1] as string, [...(chains.get(rule[1] as string) ?? []), rule[2] as string]);
  }
  return chains;
}

/** `ip route show proto 157`: `10.65.0.3 dev caliX scope link` and `blackhole 10.65.0.0/16`. */
export function parseRoutes(text: string, family: Family): KernelRoute[] {
  return text.split('\n').flatMap((line): KernelRoute[] => {
    const blackhole = /^blackhole (\S+)/.exec(line);
    if (blackhole) return [{ family, net: normalNet(blackhole[1] as string), iface: undefined }];
    const route = /^(\S+) dev (\S+)/.exec(line);
    return route ? [{ family, net: normalNet(route[1] as string), iface: route[2] as string }] : [];
  });
}

/** `ip -o link show`: the interfaces with our prefix (`12: caliabc@if11: <…>`). */
export function parseLinks(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    const name = /^\d+: ([^:@\s]+)/.exec(line)?.[1];
    return name !== undefined && isValidInterface(name) ? [name] : [];
  });
}

/**
 * BIRD's routes for the blocks this host holds, per family, asked on its control socket; a BIRD
 * that is not running is a note. Only those prefixes are asked for: BIRD 1.6 paces its CLI's
 * output, and a whole `show route` took 50 s with 2,000 endpoints' routes in its table
 * (test/e2e/faults.test.ts), where asking each block takes milliseconds.
 */
async function readBird(ctx: CommandContext, notes: string[], blocks: readonly { readonly cidr: string; readonly version: Family }[]): Promise<BirdView | undefined> {
  const routes: Record<Family, Set<string> | undefined> = { 4: undefined, 6: undefined };
  for (const family of [4, 6] as const) {
    const { client, socket } = BIRD_FAMILIES[family];
    const path = join(STATE_DIR, socket);
    if (!ctx.deps.host.exists(path)) {
      if (family === 4) notes.push(`BIRD: not running (no ${path}); BGP checks skipped`);
      continue;
    }
    try {
      const found = new Set<string>();
      // One call even without blocks: it tells a BIRD that answers from one that does not.
      const asked = blocks.filter((block) => block.version === family).map((block) => block.cidr);
      for (const words of asked.length === 0 ? [['show', 'status']] : asked.map((cidr) => ['show', 'route', cidr])) {
        for (const prefix of parseBirdRoutes(await ctx.deps.runner.run(client, ['-s', path, ...words]))) found.add(prefix);
      }
      routes[family] = found;
    } catch (error) {
      // A socket left by a BIRD that stopped answers nothing: that BIRD is not running either.
      const message = (error as Error).message;
      if (/Unable to connect|Connection refused/i.test(message)) {
        if (family === 4) notes.push(`BIRD: not running (nothing answers on ${path}); BGP checks skipped`);
      } else notes.push(`BIRD: ${client} failed: ${message}; IPv${family} BGP checks skipped`);
    }
  }
  return routes[4] || routes[6] ? { routes } : undefined;
}

/** `birdc show route`: each route's prefix starts its line (the lines after it are more paths). */
export function parseBirdRoutes(text: string): Set<string> {
  const prefixes = new Set<string>();
  for (const line of text.split('\n')) {
    const prefix = /^([0-9A-Fa-f.:]+\/\d+)\s/.exec(line)?.[1];
    if (prefix) prefixes.add(normalNet(prefix));
  }
  return prefixes;
}

async function readDocker(ctx: CommandContext): Promise<DockerView> {
  const engine = ctx.dockerEngine();
  const [networks, containers] = await Promise.all([engine.listNetworks(), engine.listContainers()]);
  // Only a running (or paused) container has its network: what a stopped one's listing still
  // names is what it had, and neither vouches for an endpoint or an address nor needs one.
  return { containers: containers.filter((c) => c.running), calicoNetworks: new Set(networks.filter((n) => n.driver === 'calico').map((n) => n.id)) };
}
