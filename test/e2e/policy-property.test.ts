import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'fs';
import os from 'os';
import path from 'path';
import { Dataplane } from '../../src/agent/dataplane/driver';
import type { DatastoreUpdate } from '../../src/agent/dataplane/model';
import type { Logger } from '../../src/agent/log';
import type { Endpoint } from '../../src/datastore/endpoints';
import type { Rule } from '../../src/policy/ast';
import { parseCidr } from '../../src/policy/cidr';
import { evaluate, type ModelProfile, type PolicyModel } from '../../src/policy/evaluate';
import { printRule } from '../../src/policy/printer';
import { fuzzParams } from '../fakes/fuzz';
import { NetnsProber, netnsRunner, type Probe, run } from './harness/netns-prober';

jest.setTimeout(240_000);

/**
 * The evaluator (src/policy/evaluate.ts) and the real dataplane agree. fast-check draws worlds of
 * profiles, tags and endpoints; each world is rendered by the agent's own Dataplane
 * (src/agent/dataplane/driver.ts: model, state, rules, then the iptables, ipset and route
 * appliers) into a private "host" network namespace, with one namespace per endpoint joined by a
 * real veth (its cali… end in the host) and one "outside" namespace that is no endpoint. Real
 * packets then go between them, and every verdict is compared with evaluate().
 *
 * Each world gets fresh namespaces, so no conntrack entry or chain of one world reaches the next.
 * Probes use fixed source ports and run all at once; a probe whose answer does not come back within
 * the timeout counts as dropped. A drop the evaluator calls allowed is probed once more with a long
 * timeout before it counts as a disagreement (a loaded machine can be slow, never permissive).
 *
 * ICMP probes are echo requests (busybox ping): the rules' types and codes still vary, so type and
 * code matching is exercised by rules that do and do not match an echo request.
 */

const HOST = 'prophost';
const DST_PORTS = [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007];
const SRC_PORTS = [2000, 2001, 2002, 2003];
/** What the host accepts from its workloads before any policy (src/agent/dataplane/rules.ts, staticChains): DNS, DHCP, DHCPv6. */
const HOST_SERVICES = { dns: 53, dhcp: [68, 67], dhcp6: [546, 547] } as const;
/** Every namespace answers on these: the rules' ports, and the host's services. */
const LISTEN_PORTS = [...DST_PORTS, HOST_SERVICES.dns, HOST_SERVICES.dhcp[1], HOST_SERVICES.dhcp6[1]];
const TAGS = ['red', 'green', 'blue'];
const PROFILES = ['p0', 'p1', 'p2', 'p3'];
/** Named by endpoints but never created: the endpoint chain's "Profile is missing" drop. */
const MISSING = 'gone';
const HOST_MAC = 'ee:ee:ee:ee:ee:ee';
const OUTSIDE = { v4: '10.99.0.1', v6: 'fd99::1', hostV4: '10.99.0.254', hostV6: 'fd99::fe' };
const PROBE_TIMEOUT_MS = 1500;
const RETRY_TIMEOUT_MS = 6000;

const epV4 = (i: number) => `10.65.0.${i + 1}`;
const epV6 = (i: number) => `fd65::${i + 1}`;

interface WorldEndpoint {
  readonly profiles: readonly string[];
  readonly ipv6: boolean;
  /** Not "active" in etcd: the agent programs nothing for it, though its veth is there. */
  readonly inactive: boolean;
}

interface World {
  readonly profiles: readonly { readonly id: string; readonly tags: readonly string[]; readonly inbound: readonly Rule[]; readonly outbound: readonly Rule[] }[];
  readonly endpoints: readonly WorldEndpoint[];
  /** Indexes into endpoints; -1 is the outside namespace, -2 the host's own address (on its outside link). */
  readonly probes: readonly { readonly from: number; readonly to: number; readonly protocol: 'tcp' | 'udp' | 'icmp'; readonly v6: boolean; readonly srcPort: number; readonly dstPort: number }[];
}

const cidr = (text: string) => parseCidr(text)!;
const V4_CIDRS = ['10.65.0.0/16', '10.65.0.1/32', '10.65.0.2/32', '10.65.0.3/32', '10.65.0.0/30', '10.65.0.4/30', '10.99.0.0/24', '0.0.0.0/0', '192.0.2.0/24'].map(cidr);
const V6_CIDRS = ['fd65::/64', 'fd65::1/128', 'fd65::2/128', 'fd65::/126', 'fd65::4/126', 'fd99::/64', '::/0', '2001:db8::/32'].map(cidr);

const portSpec = (pool: readonly number[]) =>
  fc.oneof(
    fc.constantFrom(...pool, pool[pool.length - 1]! + 1).map((port) => ({ kind: 'port' as const, port })),
    fc.tuple(fc.integer({ min: pool[0]! - 1, max: pool[pool.length - 1]! }), fc.integer({ min: 1, max: 4 })).map(([low, span]) => ({ kind: 'range' as const, low, high: low + span })),
  );
const ports = (pool: readonly number[]) => fc.option(fc.array(portSpec(pool), { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 2 });

const sideArb = (v6: boolean, withPorts: boolean, pool: readonly number[]) =>
  fc
    .record({
      tag: fc.option(fc.constantFrom(...TAGS), { nil: undefined, freq: 3 }),
      cidr: fc.option(fc.constantFrom(...(v6 ? V6_CIDRS : V4_CIDRS)), { nil: undefined, freq: 2 }),
      ports: withPorts ? ports(pool) : fc.constant(undefined),
    })
    .map((side) => Object.fromEntries(Object.entries(side).filter(([, v]) => v !== undefined)));

const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    // Allow more often than deny, so that enough packets get through both sides.
    action: fc.constantFrom('allow' as const, 'allow' as const, 'deny' as const),
    protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const, 'icmpv6' as const, 'any' as const),
    // A CIDR's family decides the rule's (a rule with CIDRs of both families is never rendered either way).
    v6: fc.boolean(),
    fromPorts: fc.boolean(),
  })
  .chain(({ action, protocol, v6, fromPorts }) => {
    const transport = protocol === 'tcp' || protocol === 'udp';
    const sides = fc.tuple(sideArb(v6, transport && fromPorts, SRC_PORTS), sideArb(v6, transport, DST_PORTS));
    if (protocol === 'icmp' || protocol === 'icmpv6') {
      const types = protocol === 'icmp' ? [8, 0, 13, 255] : [128, 129, 1, 255];
      const icmp = fc.option(fc.record({ type: fc.constantFrom(...types), code: fc.option(fc.constantFrom(0, 1), { nil: undefined }) }), { nil: undefined });
      return fc.tuple(sides, icmp).map(([[from, to], match]) => ({ action, protocol, from, to, ...(match && { icmp: match.code === undefined ? { type: match.type } : match }) }) as Rule);
    }
    return sides.map(([from, to]) => ({ action, protocol, from, to }) as Rule);
  });

/** Random rules, often closed by a broad allow (as the plugin's default profile rules are), so that many packets pass both sides. */
const BROAD: readonly Rule[] = [
  { action: 'allow', protocol: 'any', from: {}, to: {} },
  { action: 'allow', protocol: 'tcp', from: {}, to: {} },
  { action: 'allow', protocol: 'udp', from: {}, to: {} },
  { action: 'allow', protocol: 'any', from: { tag: 'red' }, to: {} },
  { action: 'allow', protocol: 'any', from: {}, to: { tag: 'green' } },
];
const rulesArb = (broad: number) =>
  fc
    .tuple(fc.array(ruleArb, { maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...BROAD))
    .map(([rules, dice, last]) => (dice < broad ? [...rules, last] : rules));

const worldArb: fc.Arbitrary<World> = fc
  .record({
    profiles: fc.tuple(
      ...PROFILES.map((id) =>
        fc.record({
          id: fc.constant(id),
          tags: fc.subarray(TAGS),
          inbound: rulesArb(0.4),
          outbound: rulesArb(0.6),
        }),
      ),
    ),
    endpoints: fc.array(
      fc.record({
        profiles: fc.oneof(
          { weight: 12, arbitrary: fc.uniqueArray(fc.constantFrom(...PROFILES), { minLength: 1, maxLength: 2 }) },
          { weight: 1, arbitrary: fc.constantFrom([MISSING], ['p0', MISSING]) },
        ),
        ipv6: fc.boolean(),
        inactive: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }),
      { minLength: 3, maxLength: 6 },
    ),
  })
  .chain(({ profiles, endpoints }) =>
    fc
      .array(
        fc.record({
          from: fc.integer({ min: -2, max: endpoints.length - 1 }),
          to: fc.integer({ min: -2, max: endpoints.length - 1 }),
          protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const),
          v6: fc.boolean(),
          srcPort: fc.constantFrom(...SRC_PORTS),
          dstPort: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...DST_PORTS) }, { weight: 1, arbitrary: fc.constant(HOST_SERVICES.dns) }),
        }),
        { minLength: 36, maxLength: 44 },
      )
      // Always one workload asking its host for DHCP, DHCPv6 and DNS, which no policy may stop.
      .map((probes) => ({
        profiles,
        endpoints,
        probes: [
          ...probes,
          { from: 0, to: -2, protocol: 'udp' as const, v6: false, srcPort: HOST_SERVICES.dhcp[0], dstPort: HOST_SERVICES.dhcp[1] },
          { from: 0, to: -2, protocol: 'udp' as const, v6: true, srcPort: HOST_SERVICES.dhcp6[0], dstPort: HOST_SERVICES.dhcp6[1] },
          { from: 1, to: -2, protocol: 'udp' as const, v6: false, srcPort: SRC_PORTS[0]!, dstPort: HOST_SERVICES.dns },
        ],
      })),
  );

const quietLog: Logger & { lines: string[] } = {
  lines: [],
  debug() {},
  info(m) {
    quietLog.lines.push(`INFO ${m}`);
  },
  warning(m) {
    quietLog.lines.push(`WARNING ${m}`);
  },
  error(m) {
    quietLog.lines.push(`ERROR ${m}`);
  },
};

let worldNumber = 0;
const tally = { worlds: 0, probes: 0, allowed: 0, denied: 0 };
const prefix = `pp${process.pid}`;

/** Every namespace this file made, so that afterAll removes whatever a failed world left. */
const namespaces = new Set<string>();
const probers = new Set<NetnsProber>();

async function addNs(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  namespaces.add(name);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

async function delNs(name: string): Promise<void> {
  // The kernel tears down the veths with the namespace.
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
  namespaces.delete(name);
}

const sysctl = (ns: string, ...settings: string[]) => run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings]);

/** The agent's sysctl writes went to a scratch tree (its real target, /proc/sys, is this process's own namespace's): replay them in the host namespace. */
async function replaySysctls(root: string, ns: string): Promise<void> {
  const settings: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else settings.push(`${path.relative(root, file).split(path.sep).join('.')}=${readFileSync(file, 'utf8').trim()}`);
    }
  };
  walk(root);
  if (settings.length > 0) await sysctl(ns, ...settings);
}

function describeWorld(world: World): string {
  const lines: string[] = [];
  for (const p of world.profiles) {
    lines.push(`profile ${p.id} tags [${p.tags.join(' ')}]`);
    p.inbound.forEach((r, i) => lines.push(`  inbound ${i + 1}: ${printRule(r)}`));
    p.outbound.forEach((r, i) => lines.push(`  outbound ${i + 1}: ${printRule(r)}`));
  }
  world.endpoints.forEach((e, i) => lines.push(`endpoint e${i} ${epV4(i)}${e.ipv6 ? ` ${epV6(i)}` : ''} profiles [${e.profiles.join(' ')}]${e.inactive ? ' inactive' : ''}`));
  lines.push(`outside ${OUTSIDE.v4} ${OUTSIDE.v6}; the host ${OUTSIDE.hostV4} ${OUTSIDE.hostV6}`);
  return lines.join('\n');
}

async function checkWorld(world: World): Promise<void> {
  const n = worldNumber++;
  const host = `${prefix}-h${n}`;
  const outside = `${prefix}-o${n}`;
  const eps = world.endpoints.map((_, i) => `${prefix}-w${n}e${i}`);
  const ifaces = world.endpoints.map((_, i) => `cali${String(i).padStart(11, '0')}`);
  const macs = world.endpoints.map((_, i) => `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`);
  const sysctlRoot = mkdtempSync(path.join(os.tmpdir(), 'prop-sysctl-'));
  const world_probers: NetnsProber[] = [];
  let dataplane: Dataplane | undefined;
  try {
    // The host: forwards both families; DAD off so that addresses are usable at once.
    await addNs(host);
    await sysctl(host, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0');
    // Outside: a namespace that is no endpoint, routed through the host by a plain (non-cali) veth.
    await addNs(outside);
    await sysctl(outside, 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0');
    await run('ip', ['-n', host, 'link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
    const outsideSetup = [
      ['-n', host, 'addr', 'add', `${OUTSIDE.hostV4}/24`, 'dev', 'out0'],
      ['-n', host, '-6', 'addr', 'add', `${OUTSIDE.hostV6}/64`, 'dev', 'out0', 'nodad'],
      ['-n', host, 'link', 'set', 'out0', 'up'],
      ['-n', outside, 'addr', 'add', `${OUTSIDE.v4}/24`, 'dev', 'eth0'],
      ['-n', outside, '-6', 'addr', 'add', `${OUTSIDE.v6}/64`, 'dev', 'eth0', 'nodad'],
      ['-n', outside, 'link', 'set', 'eth0', 'up'],
      ['-n', outside, 'route', 'add', 'default', 'via', OUTSIDE.hostV4],
      ['-n', outside, '-6', 'route', 'add', 'default', 'via', OUTSIDE.hostV6],
    ];
    for (const args of outsideSetup) await run('ip', args);

    // Endpoints: the container end as the plugin makes it (src/host/links.ts): a host route via
    // 169.254.1.1 (IPv6: a link-local gateway), whose neighbour is the host end's MAC.
    await Promise.all(
      world.endpoints.map(async (endpoint, i) => {
        const ns = eps[i]!;
        await addNs(ns);
        await sysctl(ns, 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0');
        await run('ip', ['-n', host, 'link', 'add', ifaces[i]!, 'address', HOST_MAC, 'type', 'veth', 'peer', 'name', 'eth0', 'address', macs[i]!, 'netns', ns]);
        const steps = [
          ['-n', host, 'link', 'set', ifaces[i]!, 'up'],
          ['-n', ns, 'link', 'set', 'eth0', 'up'],
          ['-n', ns, 'addr', 'add', `${epV4(i)}/32`, 'dev', 'eth0'],
          ['-n', ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link'],
          ['-n', ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0'],
          ['-n', ns, 'neigh', 'replace', '169.254.1.1', 'lladdr', HOST_MAC, 'dev', 'eth0', 'nud', 'permanent'],
          ...(endpoint.ipv6
            ? [
                ['-n', ns, '-6', 'addr', 'add', `${epV6(i)}/128`, 'dev', 'eth0', 'nodad'],
                ['-n', ns, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0'],
                ['-n', ns, '-6', 'neigh', 'replace', 'fe80::1', 'lladdr', HOST_MAC, 'dev', 'eth0', 'nud', 'permanent'],
              ]
            : []),
        ];
        for (const args of steps) await run('ip', args);
        mkdirSync(path.join(sysctlRoot, 'net/ipv4/conf', ifaces[i]!), { recursive: true });
        mkdirSync(path.join(sysctlRoot, 'net/ipv4/neigh', ifaces[i]!), { recursive: true });
      }),
    );

    // The agent's own dataplane, from the same typed updates its syncer would deliver.
    const updates: DatastoreUpdate[] = [];
    for (const p of world.profiles) {
      updates.push({ kind: 'profileTags', id: p.id, tags: p.tags }, { kind: 'profileRules', id: p.id, rules: { inbound: p.inbound, outbound: p.outbound } });
    }
    world.endpoints.forEach((e, i) => {
      const key = { hostname: HOST, orchestrator: 'docker', workload: `w${i}`, endpoint: `e${i}` };
      const endpoint: Endpoint = {
        ...key,
        state: e.inactive ? 'inactive' : 'active',
        name: ifaces[i]!,
        mac: macs[i]!,
        profileIds: e.profiles,
        ipv4Nets: [`${epV4(i)}/32`],
        ipv6Nets: e.ipv6 ? [`${epV6(i)}/128`] : [],
        labels: {},
      };
      updates.push({ kind: 'endpoint', key, endpoint });
    });
    updates.push({ kind: 'ready', ready: true });
    const live = new Set(ifaces);
    dataplane = new Dataplane(HOST, netnsRunner(host), quietLog, () => undefined, 3_600_000, {
      interfaceExists: (iface) => live.has(iface),
      sysctlRoot,
      restoreSessions: false,
    });
    dataplane.resync(updates);
    await dataplane.settle();
    const report = dataplane.lastApply;
    if (!report?.ok) throw new Error(`the dataplane did not apply: ${JSON.stringify(report)}\n${quietLog.lines.join('\n')}`);
    await replaySysctls(sysctlRoot, host);

    // The evaluator's model of the same world.
    const model: PolicyModel = {
      profiles: new Map<string, ModelProfile>(world.profiles.map((p) => [p.id, p])),
      endpoints: world.endpoints.map((e, i) => ({
        id: `e${i}`,
        host: HOST,
        profileIds: e.profiles,
        ipv4Nets: [`${epV4(i)}/32`],
        ipv6Nets: e.ipv6 ? [`${epV6(i)}/128`] : [],
        active: !e.inactive,
      })),
      hostAddresses: new Map([[HOST, [OUTSIDE.hostV4, OUTSIDE.hostV6]]]),
    };

    // Probes: endpoints and outside, both ways; same-endpoint pairs, outside to outside, and IPv6
    // to or from an endpoint without IPv6 are left out (there is no such packet).
    const address = (index: number, v6: boolean) =>
      index === -2 ? (v6 ? OUTSIDE.hostV6 : OUTSIDE.hostV4) : index < 0 ? (v6 ? OUTSIDE.v6 : OUTSIDE.v4) : v6 ? epV6(index) : epV4(index);
    const label = (index: number) => (index === -2 ? 'host' : index < 0 ? 'outside' : `e${index}`);
    const hasV6 = (index: number) => index < 0 || world.endpoints[index]!.ipv6;
    const seen = new Set<string>();
    const bySource = new Map<number, Probe[]>();
    const expected = new Map<number, { verdict: 'allow' | 'deny'; text: string }>();
    let id = 0;
    for (const p of world.probes) {
      // Outside to the host (or back) meets none of Calico's chains.
      if (p.from === p.to || (p.from < 0 && p.to < 0)) continue;
      // IPv6 where both ends have it; IPv4 otherwise.
      const v6 = p.v6 && hasV6(p.from) && hasV6(p.to);
      const family = v6 ? 6 : 4;
      const probe: Probe =
        p.protocol === 'icmp'
          ? { id, protocol: 'icmp', family, src: address(p.from, v6), dst: address(p.to, v6) }
          : { id, protocol: p.protocol, family, src: address(p.from, v6), dst: address(p.to, v6), srcPort: p.srcPort, dstPort: p.dstPort };
      const key = JSON.stringify({ ...probe, id: 0 });
      if (seen.has(key)) continue;
      seen.add(key);
      const trace = evaluate(model, {
        src: probe.src,
        dst: probe.dst,
        ...(p.protocol === 'icmp'
          ? { protocol: v6 ? 'icmpv6' : 'icmp', icmpType: v6 ? 128 : 8, icmpCode: 0 }
          : { protocol: p.protocol, srcPort: p.srcPort, dstPort: p.dstPort }),
      });
      const text = `${p.protocol}${p.protocol === 'icmp' ? (v6 ? 'v6 echo' : ' echo') : ` ${probe.srcPort}→${probe.dstPort}`} ${label(p.from)} ${probe.src} → ${label(p.to)} ${probe.dst}: ${trace.steps
        .map((s) => `${s.endpoint ?? '-'} ${s.direction} ${s.profile ?? '(end)'}${s.rule ? ` rule ${s.rule}` : ''} ${s.verdict}`)
        .join('; ')}`;
      expected.set(id, { verdict: trace.verdict, text });
      bySource.set(p.from, [...(bySource.get(p.from) ?? []), probe]);
      id++;
    }

    const proberOf = new Map<number, NetnsProber>();
    for (const index of [-2, -1, ...world.endpoints.keys()]) {
      const prober = new NetnsProber(index === -2 ? host : index < 0 ? outside : eps[index]!, LISTEN_PORTS);
      probers.add(prober);
      world_probers.push(prober);
      proberOf.set(index, prober);
    }
    await Promise.all(world_probers.map((p) => p.ready()));

    const results = new Map<number, boolean>();
    const all = [...bySource.entries()];
    await Promise.all(all.map(async ([from, probes]) => {
      for (const r of await proberOf.get(from)!.probe(probes, PROBE_TIMEOUT_MS)) results.set(r.id, r.ok);
    }));
    // A slow answer is not a drop: what looked dropped but should pass gets one long second chance.
    await Promise.all(all.map(async ([from, probes]) => {
      const again = probes.filter((p) => !results.get(p.id) && expected.get(p.id)!.verdict === 'allow');
      for (const r of await proberOf.get(from)!.probe(again, RETRY_TIMEOUT_MS)) results.set(r.id, r.ok);
    }));

    const disagreements: string[] = [];
    for (const [probeId, want] of expected) {
      const got = results.get(probeId) ? 'allow' : 'deny';
      if (got !== want.verdict) disagreements.push(`kernel ${got}, evaluate() ${want.verdict}: ${want.text}`);
    }
    tally.worlds++;
    tally.probes += expected.size;
    for (const ok of results.values()) tally[ok ? 'allowed' : 'denied']++;
    if (disagreements.length > 0) {
      const chains = await run('ip', ['netns', 'exec', host, 'iptables-save', '-t', 'filter']).catch((e: Error) => e.message);
      throw new Error(`The kernel and evaluate() disagree on ${disagreements.length} of ${expected.size} probes:\n${disagreements.join('\n')}\n\nWorld:\n${describeWorld(world)}\n\nIPv4 filter table:\n${chains}`);
    }
  } finally {
    dataplane?.stop();
    for (const prober of world_probers) {
      await prober.stop();
      probers.delete(prober);
    }
    for (const ns of [...eps, outside, host]) await delNs(ns);
    rmSync(sysctlRoot, { recursive: true, force: true });
  }
}

describe('policy evaluator vs. the real dataplane', () => {
  afterAll(async () => {
    for (const prober of probers) await prober.stop();
    for (const ns of [...namespaces]) await delNs(ns);
  });

  it('gives every probe between random endpoints the verdict evaluate() gives it', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, (world) => checkWorld(world)),
      // Each world costs seconds of real kernel work: no shrinking (the failure prints the whole world).
      { ...fuzzParams<[World]>(12), endOnFailure: true },
    );
    console.log(`policy property: ${tally.worlds} worlds, ${tally.probes} probes (${tally.allowed} allowed, ${tally.denied} dropped by the kernel), all as evaluate() said`);
    // Hundreds of real packets, not a handful (probes are deduplicated per world), and both verdicts seen.
    expect(tally.probes).toBeGreaterThanOrEqual(tally.worlds * 20);
    expect(tally.allowed).toBeGreaterThan(0);
    expect(tally.denied).toBeGreaterThan(0);
  });
});
