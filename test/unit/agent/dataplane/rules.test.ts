import fc from 'fast-check';
import {
  FROM_ENDPOINT,
  fromEndpointChain,
  isValidInterface,
  profileChain,
  shorten,
  tagSet,
  tempTagSet,
  TO_ENDPOINT,
  toEndpointChain,
  TOP_CHAINS,
} from '../../../../src/agent/dataplane/contract';
import { chunkPorts, endpointChains, profileChains, renderRule, ruleMatches } from '../../../../src/agent/dataplane/rules';
import { DataplaneState } from '../../../../src/agent/dataplane/state';
import type { PortSpec, Rule } from '../../../../src/policy/ast';
import { parseCidr } from '../../../../src/policy/cidr';
import { ruleFromV1 } from '../../../../src/policy/codec';
import { A, APP1, D, DB1, DB2, expectGolden, localEndpoint, restoreText, scenarioChains } from './scenario';

const ACCEPT = '-j MARK --set-xmark 0x1000000/0x1000000';
const RETURN_IF_ACCEPTED = '-m mark --mark 0x1000000/0x1000000 -j RETURN';
/** The comment that names a profile's rule n for `rule show --counts`. */
const rn = (n: number) => `-m comment --comment r${n}`;
const rule = (v1: Record<string, unknown>): Rule => ruleFromV1(v1, 'rule');
const render = (r: Rule, family: 4 | 6, tags = new Set<string>()) => renderRule(r, family, tags);
const port = (n: number): PortSpec => ({ kind: 'port', port: n });
const range = (low: number, high: number): PortSpec => ({ kind: 'range', low, high });
const tcpTo = (ports: PortSpec[], from: PortSpec[] | undefined = undefined): Rule => ({
  protocol: 'tcp',
  action: 'allow',
  from: from ? { ports: from } : {},
  to: { ports },
});

describe('the tutorial scenario (databases D with db1+db2, applications A with app1, the 3306 rule)', () => {
  for (const family of [4, 6] as const) {
    it(`renders the IPv${family} chains as in golden/scenario-e-ipv${family}.txt`, () => {
      expectGolden(`scenario-e-ipv${family}.txt`, restoreText(scenarioChains(family, true)));
    });
  }

  it('has the chain layout of ARCHITECTURE.md: top chains, dispatch, per-endpoint and per-profile chains', () => {
    const chains = scenarioChains(4, true);
    const sD = shorten(D);
    const sA = shorten(A);
    expect(sD).toMatch(/^_[0-9a-f]{15}$/);
    expect([...chains.keys()].sort()).toEqual(
      [
        ...Object.values(TOP_CHAINS),
        FROM_ENDPOINT,
        TO_ENDPOINT,
        ...[DB1, DB2, APP1].flatMap((e) => [fromEndpointChain(e.iface), toEndpointChain(e.iface)]),
        `cali-pi-${sD}`,
        `cali-po-${sD}`,
        `cali-pi-${sA}`,
        `cali-po-${sA}`,
      ].sort(),
    );
    // Profile D accepts its own members, then applications on tcp/3306; nothing else.
    expect(chains.get(`cali-pi-${sD}`)).toEqual([
      `-m set --match-set cali4-t-${sD} src ${rn(1)} ${ACCEPT}`,
      RETURN_IF_ACCEPTED,
      `-p tcp -m set --match-set cali4-t-${sA} src -m multiport --destination-ports 3306 ${rn(2)} ${ACCEPT}`,
      RETURN_IF_ACCEPTED,
    ]);
    expect(chains.get(`cali-po-${sD}`)).toEqual([`${rn(1)} ${ACCEPT}`, RETURN_IF_ACCEPTED]);
    expect(chains.get(`cali-pi-${sA}`)).toEqual([`-m set --match-set cali4-t-${sA} src ${rn(1)} ${ACCEPT}`, RETURN_IF_ACCEPTED]);

    // Dispatch by interface, ending in DROP for unknown cali interfaces.
    const from = chains.get(FROM_ENDPOINT)!;
    expect(from).toContain(`-i ${DB1.iface} -g ${fromEndpointChain(DB1.iface)}`);
    expect(from[from.length - 1]).toBe('-m comment --comment "From unknown endpoint" -j DROP');
    const to = chains.get(TO_ENDPOINT)!;
    expect(to).toContain(`-o ${APP1.iface} -g ${toEndpointChain(APP1.iface)}`);
    expect(to[to.length - 1]).toBe('-m comment --comment "To unknown endpoint" -j DROP');

    // The endpoint chain: reset the marks, anti-spoofing (MAC, then source address), profiles, final DROP.
    expect(chains.get(fromEndpointChain(DB1.iface))).toEqual([
      '-j MARK --set-xmark 0x0/0x3000000',
      '-m mac ! --mac-source EE:EE:EE:EE:EE:EE -m comment --comment "Incorrect source MAC" -j DROP',
      '-s 192.168.0.1/32 -j MARK --set-xmark 0x2000000/0x2000000',
      '-m mark ! --mark 0x2000000/0x2000000 -m comment --comment "Incorrect source IP" -j DROP',
      `-j cali-po-${sD}`,
      '-m mark --mark 0x1000000/0x1000000 -m comment --comment "Profile accepted packet" -j RETURN',
      '-m comment --comment "Packet did not match any profile" -j DROP',
    ]);
    expect(chains.get(toEndpointChain(DB1.iface))).toEqual([
      '-j MARK --set-xmark 0x0/0x1000000',
      `-j cali-pi-${sD}`,
      '-m mark --mark 0x1000000/0x1000000 -m comment --comment "Profile accepted packet" -j RETURN',
      '-m comment --comment "Packet did not match any profile" -j DROP',
    ]);

    // FORWARD: conntrack first (INVALID dropped, established accepted), then policy, then accept.
    expect(chains.get(TOP_CHAINS.FORWARD)!.slice(0, 4)).toEqual([
      '-i cali+ -m conntrack --ctstate INVALID -j DROP',
      '-o cali+ -m conntrack --ctstate INVALID -j DROP',
      '-i cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-o cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]);
  });

  it('uses the family-specific sets and no IPv4 source addresses in the IPv6 chains', () => {
    const chains = scenarioChains(6, true);
    const all = [...chains.values()].flat();
    expect(all.some((r) => r.includes('cali4-'))).toBe(false);
    expect(chains.get(`cali-pi-${shorten(D)}`)![0]).toBe(`-m set --match-set cali6-t-${shorten(D)} src ${rn(1)} ${ACCEPT}`);
    // db1's IPv6 chain checks its IPv6 source address, never an IPv4 one.
    expect(chains.get(fromEndpointChain(DB1.iface))).toContain(`-s ${DB1.ipv6[0]} -j MARK --set-xmark 0x2000000/0x2000000`);
    expect(chains.get(fromEndpointChain(DB1.iface))).not.toContainEqual(expect.stringMatching(/^-s \d+\./));
    expect(chains.get(TOP_CHAINS.INPUT)).toContain('-i cali+ -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT');
  });
});

describe('rule rendering', () => {
  it('renders allow as set-mark + return, deny as DROP', () => {
    expect(render(rule({ action: 'allow', protocol: 'udp' }), 4)).toEqual([`-p udp ${ACCEPT}`, RETURN_IF_ACCEPTED]);
    expect(render(rule({ action: 'deny', protocol: 'udp' }), 4)).toEqual(['-p udp -j DROP']);
    expect(render(rule({ action: 'allow' }), 6)).toEqual([ACCEPT, RETURN_IF_ACCEPTED]);
    expect(render(rule({ action: 'deny' }), 6)).toEqual(['-j DROP']);
  });

  it('keeps rule order within a profile: a deny before an allow wins', () => {
    const { chains } = profileChains(
      'web',
      {
        inbound: [rule({ action: 'deny', protocol: 'tcp', dst_ports: [22] }), rule({ action: 'allow', protocol: 'tcp' })],
        outbound: [],
      },
      4,
    );
    // Each rule's iptables rules carry its number, and the RETURN after an allow does not.
    expect(chains.get('cali-pi-web')).toEqual([`-p tcp -m multiport --destination-ports 22 ${rn(1)} -j DROP`, `-p tcp ${rn(2)} ${ACCEPT}`, RETURN_IF_ACCEPTED]);
    expect(chains.get('cali-po-web')).toEqual([]);
  });

  it('renders source and destination ports, lists and ranges', () => {
    expect(render(rule({ action: 'allow', protocol: 'tcp', src_ports: [1024, '2000:3000'], dst_ports: [80, 443] }), 4)[0]).toBe(
      `-p tcp -m multiport --source-ports 1024,2000:3000 -m multiport --destination-ports 80,443 ${ACCEPT}`,
    );
  });

  describe('multiport chunking (15 entries per match, a range counts 2)', () => {
    const ports = (n: number, start = 1) => Array.from({ length: n }, (_, i) => port(start + i));

    it('fits 15 single ports in one rule and splits the 16th off', () => {
      expect(chunkPorts(ports(15))).toEqual([ports(15).map((p) => (p as { port: number }).port).join(',')]);
      expect(chunkPorts(ports(16))).toEqual(['1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', '16']);
      expect(render(tcpTo(ports(16)), 4)).toEqual([
        `-p tcp -m multiport --destination-ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 ${ACCEPT}`,
        `-p tcp -m multiport --destination-ports 16 ${ACCEPT}`,
        RETURN_IF_ACCEPTED,
      ]);
    });

    it('counts a range as two', () => {
      const sevenRanges = Array.from({ length: 7 }, (_, i) => range(1000 * (i + 1), 1000 * (i + 1) + 10));
      expect(chunkPorts([...sevenRanges, port(1)])).toHaveLength(1); // 14 + 1
      expect(chunkPorts([...sevenRanges, port(1), port(2)])).toHaveLength(2); // 16
      expect(chunkPorts([...sevenRanges, range(9000, 9001)])).toEqual([sevenRanges.map((r) => `${(r as { low: number }).low}:${(r as { high: number }).high}`).join(','), '9000:9001']);
    });

    it('emits one rule per (source chunk x destination chunk)', () => {
      const lines = render(tcpTo(ports(16, 100), ports(20, 2000)), 4);
      expect(lines).toHaveLength(2 * 2 + 1);
      const combos = lines.slice(0, 4).map((l) => /--source-ports (\S+) -m multiport --destination-ports (\S+)/.exec(l)!.slice(1).map((c) => c.split(',').length));
      expect(combos).toEqual([
        [15, 15],
        [15, 1],
        [5, 15],
        [5, 1],
      ]);
      expect(lines[4]).toBe(RETURN_IF_ACCEPTED);
    });

    it('never puts more than 15 entries in a match, and keeps every port in order (property)', () => {
      const spec = fc.oneof(
        fc.integer({ min: 0, max: 65535 }).map(port),
        fc.tuple(fc.integer({ min: 0, max: 65534 }), fc.integer({ min: 1, max: 1000 })).map(([low, span]) => range(low, Math.min(65535, low + span))),
      );
      fc.assert(
        fc.property(fc.array(spec, { minLength: 1, maxLength: 60 }), (list) => {
          const chunks = chunkPorts(list);
          for (const chunk of chunks) {
            const weight = chunk.split(',').reduce((sum, entry) => sum + (entry.includes(':') ? 2 : 1), 0);
            expect(weight).toBeLessThanOrEqual(15);
          }
          expect(chunks.join(',')).toBe(list.map((p) => (p.kind === 'port' ? `${p.port}` : `${p.low}:${p.high}`)).join(','));
        }),
      );
    });
  });

  describe('ICMP', () => {
    it('renders icmp type and code in IPv4 and skips icmp rules in IPv6', () => {
      const icmp = rule({ action: 'allow', protocol: 'icmp', icmp_type: 8, icmp_code: 0 });
      expect(render(icmp, 4)).toEqual([`-p icmp -m icmp --icmp-type 8/0 ${ACCEPT}`, RETURN_IF_ACCEPTED]);
      expect(render(icmp, 6)).toEqual([]);
      expect(ruleMatches(rule({ action: 'deny', protocol: 'icmp', icmp_type: 3 }), 4)).toEqual(['-p icmp -m icmp --icmp-type 3']);
      expect(ruleMatches(rule({ action: 'deny', protocol: 'icmp' }), 4)).toEqual(['-p icmp']);
    });

    it('renders icmpv6 type and code in IPv6 and skips icmpv6 rules in IPv4', () => {
      const icmp6 = rule({ action: 'deny', protocol: 'icmpv6', icmp_type: 128, icmp_code: 0 });
      expect(render(icmp6, 6)).toEqual(['-p ipv6-icmp -m icmp6 --icmpv6-type 128/0 -j DROP']);
      expect(render(icmp6, 4)).toEqual([]);
      expect(ruleMatches(rule({ action: 'allow', protocol: 'icmpv6', icmp_type: 1 }), 6)).toEqual(['-p ipv6-icmp -m icmp6 --icmpv6-type 1']);
    });

    it('does not reference the tag of a rule skipped in this family', () => {
      const tags = new Set<string>();
      render(rule({ action: 'allow', protocol: 'icmp', src_tag: 'pingers' }), 6, tags);
      expect(tags.size).toBe(0);
      render(rule({ action: 'allow', protocol: 'icmp', src_tag: 'pingers' }), 4, tags);
      expect([...tags]).toEqual(['pingers']);
    });
  });

  describe('CIDRs', () => {
    it('renders an IPv4 cidr rule only in IPv4', () => {
      const r = rule({ action: 'allow', src_net: '10.1.2.3/24', dst_net: '10.9.0.0/16' });
      expect(ruleMatches(r, 4)).toEqual(['-s 10.1.2.0/24 -d 10.9.0.0/16']);
      expect(render(r, 6)).toEqual([]);
    });

    it('renders an IPv6 cidr rule only in IPv6', () => {
      const r = rule({ action: 'deny', protocol: 'tcp', dst_net: 'fd00::1/64', dst_ports: [22] });
      expect(render(r, 6)).toEqual(['-p tcp -d fd00::/64 -m multiport --destination-ports 22 -j DROP']);
      expect(render(r, 4)).toEqual([]);
    });

    it('skips a rule whose cidr is of the other family even when built by hand', () => {
      const v6 = parseCidr('2001:db8::/32')!;
      expect(ruleMatches({ protocol: 'any', action: 'allow', from: {}, to: { cidr: v6 } }, 4)).toBeUndefined();
    });
  });

  describe('tags', () => {
    it('match on the tag set of the family, src or dst', () => {
      const tags = new Set<string>();
      expect(render(rule({ action: 'allow', src_tag: 'web', dst_tag: 'db' }), 4, tags)[0]).toBe(
        `-m set --match-set cali4-t-web src -m set --match-set cali4-t-db dst ${ACCEPT}`,
      );
      expect([...tags].sort()).toEqual(['db', 'web']);
      expect(ruleMatches(rule({ action: 'allow', dst_tag: 'db' }), 6)).toEqual(['-m set --match-set cali6-t-db dst']);
    });

    it('uses hashed set names for long tags, the same hash as the profile chain of that ID', () => {
      expect(ruleMatches(rule({ action: 'allow', src_tag: D }), 4)).toEqual([`-m set --match-set cali4-t-${shorten(D)} src`]);
      expect(profileChain(D, 'inbound')).toBe(`cali-pi-${shorten(D)}`);
    });

    it('reports the tags a profile needs, per family', () => {
      const rules = {
        inbound: [rule({ action: 'allow', src_tag: 'a' }), rule({ action: 'allow', protocol: 'icmp', src_tag: 'b' })],
        outbound: [rule({ action: 'deny', dst_tag: 'c', dst_net: 'fd00::/8' })],
      };
      expect([...profileChains('p', rules, 4).tags].sort()).toEqual(['a', 'b']);
      expect([...profileChains('p', rules, 6).tags].sort()).toEqual(['a', 'c']);
    });
  });
});

describe('names', () => {
  it('keeps short plain names and hashes the others to _ + 15 hex', () => {
    expect(shorten('databases')).toBe('databases');
    expect(shorten('a.b-c_d')).toBe('a.b-c_d');
    expect(shorten('x'.repeat(16))).toBe('x'.repeat(16));
    for (const odd of ['x'.repeat(17), D, '_leading', '', 'a b', 'a/b', 'a"b', 'tab\t', 'ünï', '-j ACCEPT', 'a\nb']) {
      expect(shorten(odd)).toMatch(/^_[0-9a-f]{15}$/);
    }
    expect(shorten('x'.repeat(17))).not.toBe(shorten('x'.repeat(18)));
  });

  it('derives temp set names within the limit', () => {
    expect(tempTagSet(tagSet(4, D))).toBe(`cali4-x-${shorten(D)}`);
    expect(tempTagSet(tagSet(6, 'web'))).toBe('cali6-x-web');
  });

  it('never produces an over-long or unsafe chain or set name (property)', () => {
    const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 40 }), fc.stringMatching(/^[A-Za-z0-9_.-]{0,20}$/));
    fc.assert(
      fc.property(anyString, (s) => {
        for (const direction of ['inbound', 'outbound'] as const) {
          const chain = profileChain(s, direction);
          expect(chain.length).toBeLessThanOrEqual(28);
          expect(chain).toMatch(/^cali-p[io]-[A-Za-z0-9_.-]+$/);
        }
        for (const family of [4, 6] as const) {
          const set = tagSet(family, s);
          expect(set.length).toBeLessThanOrEqual(31);
          expect(set).toMatch(/^cali[46]-t-[A-Za-z0-9_.-]+$/);
          expect(tempTagSet(set).length).toBeLessThanOrEqual(31);
          expect(tempTagSet(set)).toMatch(/^cali[46]-x-[A-Za-z0-9_.-]+$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('maps distinct names to distinct chains (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }), (a, b) => {
        fc.pre(a !== b);
        expect(shorten(a)).not.toBe(shorten(b));
      }),
      { numRuns: 500 },
    );
  });

  it('renders any valid profile ID and tag into safe rules (property)', () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,70}$/);
    fc.assert(
      fc.property(name, name, (id, tag) => {
        const { chains } = profileChains(id, { inbound: [rule({ action: 'allow', src_tag: tag })], outbound: [rule({ action: 'deny', dst_tag: tag })] }, 4);
        for (const [chain, rules] of chains) {
          expect(chain.length).toBeLessThanOrEqual(28);
          for (const line of rules) {
            for (const m of line.matchAll(/--match-set (\S+)/g)) expect(m[1]!.length).toBeLessThanOrEqual(31);
            expect(line).toMatch(/^[A-Za-z0-9_.:,/ +!-]+$/);
          }
        }
      }),
    );
  });

  it('keeps endpoint chain names within the limit for every valid interface', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{1,11}$/), (suffix) => {
        const iface = `cali${suffix}`;
        expect(isValidInterface(iface)).toBe(true);
        expect(fromEndpointChain(iface).length).toBeLessThanOrEqual(28);
        expect(toEndpointChain(iface).length).toBeLessThanOrEqual(28);
        const chains = endpointChains({ ...localEndpoint(DB1), iface }, 4, () => true);
        expect([...chains.keys()]).toEqual([`cali-from-${suffix}`, `cali-to-${suffix}`]);
      }),
    );
  });
});

describe('interfaces', () => {
  const invalid = ['eth0', 'cali', 'cali123456789012', 'Cali1234', 'cali a', 'cali;rm', 'cali$(x)', 'calix\n', 'tap1234', 'cali12345678901\u0000', 'cali+'];

  it('accepts only cali + 1..11 plain characters', () => {
    for (const name of invalid) expect(isValidInterface(name)).toBe(false);
    for (const name of ['cali0', 'cali12345678901', 'cali-a.b_c', `cali${DB1.id.slice(0, 11)}`]) expect(isValidInterface(name)).toBe(true);
  });

  it('never programs an endpoint whose interface name is not valid (state, any string)', () => {
    const programmed = (iface: string) => {
      const state = new DataplaneState('host1');
      state.setProfile('p', { tags: ['p'], rules: { inbound: [], outbound: [] } });
      state.setEndpoint('/k', { hostname: 'host1', state: 'active', endpointId: 'e', iface, mac: 'ee:ee:ee:ee:ee:ee', profileIds: ['p'], ipv4Nets: ['10.0.0.1/32'], ipv6Nets: [] });
      return state;
    };
    for (const name of invalid) {
      const state = programmed(name);
      expect(state.localInterfaces()).toEqual([]);
      expect(state.routes()).toEqual([]);
      expect(state.chains[4].get(FROM_ENDPOINT)).toEqual(['-m comment --comment "From unknown endpoint" -j DROP']);
      expect(state.chains[6].get(TO_ENDPOINT)).toEqual(['-m comment --comment "To unknown endpoint" -j DROP']);
      expect([...state.chains[4].keys()].some((c) => c.startsWith('cali-from-') || c.startsWith('cali-to-'))).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (iface) => {
        const state = programmed(iface);
        expect(state.localInterfaces().length === 1).toBe(isValidInterface(iface));
      }),
    );
  });
});

describe('buildRestore: inserting instead of rewriting', () => {
  const { buildRestore, insertions } = require('../../../../src/agent/dataplane/iptables') as typeof import('../../../../src/agent/dataplane/iptables');

  it('finds the insertions that turn one rule list into another, or none when a rule went', () => {
    expect(insertions(['a', 'b'], ['a', 'x', 'b', 'y'])).toEqual([{ position: 2, rule: 'x' }, { position: 4, rule: 'y' }]);
    expect(insertions([], ['x'])).toEqual([{ position: 1, rule: 'x' }]);
    expect(insertions(['a', 'b'], ['b'])).toBeUndefined();
    expect(insertions(['a', 'b'], ['b', 'a'])).toBeUndefined();
  });

  it('inserts into a chain it knows, rewrites one it does not, and rewrites on a removal', () => {
    const desired = new Map([['cali-x', ['a', 'n', 'b', 'm']], ['cali-y', ['c']], ['cali-z', ['d']]]);
    const programmed = new Map<string, readonly string[] | undefined>([['cali-x', ['a', 'b']], ['cali-y', undefined], ['cali-z', ['d', 'e']]]);
    expect(buildRestore(desired, ['cali-x', 'cali-y', 'cali-z'], programmed)!.text).toBe(
      '*filter\n:cali-y - [0:0]\n:cali-z - [0:0]\n-A cali-y c\n-A cali-z d\n-I cali-x 2 n\n-A cali-x m\nCOMMIT\n',
    );
  });
});
