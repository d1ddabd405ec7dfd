import fc from 'fast-check';
import { fuzzParams } from '../../fakes/fuzz';
import { endpointAt, evaluate, type ModelEndpoint, type ModelProfile, type Packet, type PolicyModel } from '../../../src/policy/evaluate';
import { parseRuleText } from '../../../src/policy/parser';

function profile(id: string, tags: string[], inbound: string[], outbound: string[]): ModelProfile {
  return { id, tags, inbound: inbound.map(parseRuleText), outbound: outbound.map(parseRuleText) };
}

function endpoint(id: string, profileIds: string[], v4: string[], v6: string[] = [], host = 'host1'): ModelEndpoint {
  return { id, host, name: `cali${id}`, profileIds, ipv4Nets: v4, ipv6Nets: v6 };
}

function model(profiles: ModelProfile[], endpoints: readonly ModelEndpoint[]): PolicyModel {
  return { profiles: new Map(profiles.map((p) => [p.id, p])), endpoints };
}

/** A network's profile as the plugin creates it: allow from its own tag, allow everything out. */
function network(name: string): ModelProfile {
  return profile(name, [name], [`allow from tag ${name}`], ['allow']);
}

const tcp = (src: string, dst: string, dstPort: number, srcPort = 40000): Packet => ({ src, dst, protocol: 'tcp', srcPort, dstPort });
const udp = (src: string, dst: string, dstPort: number, srcPort = 40000): Packet => ({ src, dst, protocol: 'udp', srcPort, dstPort });
const ping = (src: string, dst: string): Packet => ({ src, dst, protocol: 'icmp', icmpType: 8, icmpCode: 0 });

describe('evaluate: the tutorial (advanced-policy)', () => {
  // databases: db1 10.0.0.1, db2 10.0.0.2 (db2 on another host); applications: app1 10.0.1.1.
  const databases = profile('databases', ['databases'], ['allow from tag databases', 'allow tcp from tag applications to ports 3306'], ['allow']);
  const applications = network('applications');
  const base = model(
    [databases, applications],
    [endpoint('db1', ['databases'], ['10.0.0.1/32']), endpoint('db2', ['databases'], ['10.0.0.2/32'], [], 'host2'), endpoint('app1', ['applications'], ['10.0.1.1/32'])],
  );

  it('app1 reaches db1 on 3306, by the rule the tutorial added', () => {
    const trace = evaluate(base, tcp('10.0.1.1', '10.0.0.1', 3306));
    expect(trace).toEqual({
      verdict: 'allow',
      steps: [
        { endpoint: 'app1', direction: 'outbound', profile: 'applications', rule: 1, ruleText: 'allow', verdict: 'allow' },
        { endpoint: 'db1', direction: 'inbound', profile: 'databases', rule: 2, ruleText: 'allow tcp from tag applications to ports 3306', verdict: 'allow' },
      ],
    });
  });

  it('app1 does not reach db1 on another port, nor by ping: no rule matched, dropped', () => {
    for (const packet of [tcp('10.0.1.1', '10.0.0.1', 80), ping('10.0.1.1', '10.0.0.1'), udp('10.0.1.1', '10.0.0.1', 3306)]) {
      const trace = evaluate(base, packet);
      expect(trace.verdict).toBe('deny');
      expect(trace.steps.slice(1)).toEqual([
        { endpoint: 'db1', direction: 'inbound', profile: 'databases', rule: null, ruleText: null, verdict: 'next' },
        { endpoint: 'db1', direction: 'inbound', profile: null, rule: null, ruleText: null, verdict: 'drop' },
      ]);
    }
  });

  it('databases reach each other on anything, across hosts too', () => {
    expect(evaluate(base, ping('10.0.0.1', '10.0.0.2')).verdict).toBe('allow');
    expect(evaluate(base, tcp('10.0.0.2', '10.0.0.1', 22)).steps[1]).toMatchObject({ rule: 1, ruleText: 'allow from tag databases' });
  });

  it('db1 cannot open a connection to app1 (applications admits only its own tag)', () => {
    expect(evaluate(base, tcp('10.0.0.1', '10.0.1.1', 3306)).verdict).toBe('deny');
  });

  it('before the rule is added, app1 cannot reach db1 at all', () => {
    const before = model([network('databases'), applications], base.endpoints);
    expect(evaluate(before, tcp('10.0.1.1', '10.0.0.1', 3306)).verdict).toBe('deny');
  });
});

describe('evaluate: profiles in order', () => {
  it('a profile with no match hands on to the next; the first match decides', () => {
    const m = model(
      [profile('a', [], ['allow tcp to ports 80'], []), profile('b', [], ['deny tcp to ports 22', 'allow'], [])],
      [endpoint('x', ['a', 'b'], ['10.0.0.1/32'])],
    );
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 80)).steps).toEqual([
      { endpoint: 'x', direction: 'inbound', profile: 'a', rule: 1, ruleText: 'allow tcp to ports 80', verdict: 'allow' },
    ]);
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 22))).toEqual({
      verdict: 'deny',
      steps: [
        { endpoint: 'x', direction: 'inbound', profile: 'a', rule: null, ruleText: null, verdict: 'next' },
        { endpoint: 'x', direction: 'inbound', profile: 'b', rule: 1, ruleText: 'deny tcp to ports 22', verdict: 'deny' },
      ],
    });
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 23)).steps[1]).toMatchObject({ profile: 'b', rule: 2, verdict: 'allow' });
  });

  it('a deny in an earlier profile wins over an allow in a later one; an allow in an earlier one skips the later ones', () => {
    const m = model([profile('a', [], ['deny'], []), profile('b', [], ['allow'], [])], [endpoint('x', ['a', 'b'], ['10.0.0.1/32']), endpoint('y', ['b', 'a'], ['10.0.0.2/32'])]);
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 1)).verdict).toBe('deny');
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.2', 1))).toMatchObject({ verdict: 'allow', steps: [{ profile: 'b' }] });
  });

  it('an endpoint without profiles drops both ways', () => {
    const m = model([], [endpoint('x', [], ['10.0.0.1/32'])]);
    expect(evaluate(m, tcp('10.0.0.1', '192.0.2.1', 80))).toEqual({
      verdict: 'deny',
      steps: [{ endpoint: 'x', direction: 'outbound', profile: null, rule: null, ruleText: null, verdict: 'drop' }],
    });
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 80)).verdict).toBe('deny');
  });

  it('a missing profile drops at once, even when a later profile would allow', () => {
    const m = model([profile('b', [], ['allow'], ['allow'])], [endpoint('x', ['gone', 'b'], ['10.0.0.1/32'])]);
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.1', 80))).toEqual({
      verdict: 'deny',
      steps: [{ endpoint: 'x', direction: 'inbound', profile: 'gone', rule: null, ruleText: null, verdict: 'drop' }],
    });
  });

  it('the outbound side decides first; a deny there never reaches the inbound side', () => {
    const m = model([profile('a', [], ['allow'], ['deny tcp'])], [endpoint('x', ['a'], ['10.0.0.1/32']), endpoint('y', ['a'], ['10.0.0.2/32'])]);
    const trace = evaluate(m, tcp('10.0.0.1', '10.0.0.2', 80));
    expect(trace.steps).toEqual([{ endpoint: 'x', direction: 'outbound', profile: 'a', rule: 1, ruleText: 'deny tcp', verdict: 'deny' }]);
    expect(evaluate(m, udp('10.0.0.1', '10.0.0.2', 80)).verdict).toBe('deny'); // nothing matched outbound
  });
});

describe('evaluate: the outside world and oneself', () => {
  const m = model([profile('a', [], ['allow from cidr 192.0.2.0/24'], ['allow to cidr 198.51.100.0/24'])], [endpoint('x', ['a'], ['10.0.0.1/32'])]);

  it('an address of no endpoint has no step on its side', () => {
    expect(evaluate(m, tcp('192.0.2.9', '10.0.0.1', 80)).steps).toEqual([
      { endpoint: 'x', direction: 'inbound', profile: 'a', rule: 1, ruleText: 'allow from cidr 192.0.2.0/24', verdict: 'allow' },
    ]);
    expect(evaluate(m, tcp('203.0.113.1', '10.0.0.1', 80)).verdict).toBe('deny');
    expect(evaluate(m, tcp('10.0.0.1', '198.51.100.7', 80)).verdict).toBe('allow');
    expect(evaluate(m, tcp('10.0.0.1', '203.0.113.1', 80)).verdict).toBe('deny');
  });

  it('outside to outside is not Calico\'s to police', () => {
    expect(evaluate(m, tcp('203.0.113.1', '203.0.113.2', 80))).toEqual({ verdict: 'allow', steps: [] });
  });

  it('an endpoint to its own address never leaves the container', () => {
    expect(evaluate(m, tcp('10.0.0.1', '10.0.0.1', 80))).toEqual({
      verdict: 'allow',
      steps: [{ endpoint: 'x', direction: 'outbound', profile: null, rule: null, ruleText: null, verdict: 'skip' }],
    });
  });

  it('finds endpoints by any spelling of their address', () => {
    const v6 = model([], [endpoint('y', [], [], ['FD80:0:0::3/128'])]);
    expect(endpointAt(v6, 'fd80::3')?.id).toBe('y');
    expect(endpointAt(v6, 'fd80:0::3')?.id).toBe('y');
    expect(endpointAt(v6, 'fd80::4')).toBeUndefined();
    expect(endpointAt(v6, 'junk')).toBeUndefined();
  });

  it('rejects packets that are not between two addresses of one family', () => {
    expect(() => evaluate(m, tcp('10.0.0.1', 'fd80::1', 80))).toThrow(/different IP families/);
    expect(() => evaluate(m, tcp('nonsense', '10.0.0.1', 80))).toThrow(/not an IP address/);
  });
});

describe('evaluate: tags', () => {
  it('a tag matches the addresses of endpoints whose profiles carry it, of the packet\'s family', () => {
    const m = model(
      [profile('srv', [], ['allow from tag clients'], []), profile('cli', ['clients'], [], ['allow']), profile('other', ['x'], [], ['allow'])],
      [
        endpoint('server', ['srv'], ['10.0.0.1/32'], ['fd80::1/128']),
        endpoint('client', ['other', 'cli'], ['10.0.0.2/32'], ['fd80::2/128'], 'host2'),
        endpoint('stranger', ['other'], ['10.0.0.3/32'], ['fd80::3/128']),
      ],
    );
    expect(evaluate(m, tcp('10.0.0.2', '10.0.0.1', 80)).verdict).toBe('allow');
    expect(evaluate(m, tcp('fd80::2', 'fd80::1', 80)).verdict).toBe('allow');
    expect(evaluate(m, tcp('10.0.0.3', '10.0.0.1', 80)).verdict).toBe('deny');
    // An address outside every endpoint is in no tag.
    expect(evaluate(m, tcp('10.9.9.9', '10.0.0.1', 80)).verdict).toBe('deny');
  });

  it('a tag on a profile that does not exist gives no membership; tags on the destination side match the destination', () => {
    const m = model(
      [profile('a', [], [], ['allow to tag dbs', 'deny'])],
      [endpoint('x', ['a'], ['10.0.0.1/32']), endpoint('db', ['missing'], ['10.0.0.2/32']), endpoint('db2', ['t'], ['10.0.0.3/32'])],
    );
    expect(evaluate(m, tcp('10.0.0.1', '10.0.0.2', 1)).steps[0]).toMatchObject({ rule: 2, verdict: 'deny' });
    const tagged = model([...m.profiles.values(), profile('t', ['dbs'], ['allow'], [])], m.endpoints);
    expect(evaluate(tagged, tcp('10.0.0.1', '10.0.0.3', 1)).verdict).toBe('allow');
  });

  it('wider nets of an endpoint are skipped, for its address and its tags', () => {
    const m = model(
      [profile('a', ['t'], ['allow from tag t'], ['allow'])],
      [endpoint('wide', ['a'], ['10.1.0.0/16']), endpoint('x', ['a'], ['10.0.0.1/32'])],
    );
    expect(endpointAt(m, '10.1.0.0')).toBeUndefined();
    expect(evaluate(m, tcp('10.1.0.5', '10.0.0.1', 80)).verdict).toBe('deny');
  });
});

describe('evaluate: matches', () => {
  const only = (rule: string) => model([profile('p', [], [rule], ['allow'])], [endpoint('x', ['p'], ['10.0.0.1/32'], ['fd80::1/128'])]);
  const verdict = (rule: string, packet: Packet) => evaluate(only(rule), packet).verdict;

  it.each<[string, Packet, 'allow' | 'deny']>([
    ['allow tcp to ports 80', tcp('192.0.2.1', '10.0.0.1', 80), 'allow'],
    ['allow tcp to ports 80', udp('192.0.2.1', '10.0.0.1', 80), 'deny'],
    ['allow udp to ports 80', udp('192.0.2.1', '10.0.0.1', 80), 'allow'],
    ['allow tcp to ports 80,443', tcp('192.0.2.1', '10.0.0.1', 443), 'allow'],
    ['allow tcp to ports 8000:8080', tcp('192.0.2.1', '10.0.0.1', 8000), 'allow'],
    ['allow tcp to ports 8000:8080', tcp('192.0.2.1', '10.0.0.1', 8080), 'allow'],
    ['allow tcp to ports 8000:8080', tcp('192.0.2.1', '10.0.0.1', 8081), 'deny'],
    ['allow tcp to ports 8000:8080', tcp('192.0.2.1', '10.0.0.1', 7999), 'deny'],
    ['allow tcp from ports 1024:65535', tcp('192.0.2.1', '10.0.0.1', 80, 1024), 'allow'],
    ['allow tcp from ports 1024:65535', tcp('192.0.2.1', '10.0.0.1', 80, 1023), 'deny'],
    ['allow tcp to ports 80', { src: '192.0.2.1', dst: '10.0.0.1', protocol: 'tcp' }, 'deny'],
    ['allow tcp', { src: '192.0.2.1', dst: '10.0.0.1', protocol: 'tcp' }, 'allow'],
    ['allow tcp', { src: '192.0.2.1', dst: '10.0.0.1' }, 'deny'],
    ['allow', { src: '192.0.2.1', dst: '10.0.0.1' }, 'allow'],
    ['allow', ping('192.0.2.1', '10.0.0.1'), 'allow'],
    ['allow icmp', ping('192.0.2.1', '10.0.0.1'), 'allow'],
    ['allow icmp type 8', ping('192.0.2.1', '10.0.0.1'), 'allow'],
    ['allow icmp type 8', { src: '192.0.2.1', dst: '10.0.0.1', protocol: 'icmp', icmpType: 8, icmpCode: 5 }, 'allow'],
    ['allow icmp type 8 code 0', ping('192.0.2.1', '10.0.0.1'), 'allow'],
    ['allow icmp type 8 code 1', ping('192.0.2.1', '10.0.0.1'), 'deny'],
    ['allow icmp type 0', ping('192.0.2.1', '10.0.0.1'), 'deny'],
    ['allow icmp type 255', { src: '192.0.2.1', dst: '10.0.0.1', protocol: 'icmp', icmpType: 3, icmpCode: 1 }, 'allow'],
    ['allow icmp', tcp('192.0.2.1', '10.0.0.1', 80), 'deny'],
    ['allow icmp', { src: 'fd00::9', dst: 'fd80::1', protocol: 'icmpv6', icmpType: 128, icmpCode: 0 }, 'deny'],
    ['allow icmpv6', { src: 'fd00::9', dst: 'fd80::1', protocol: 'icmpv6', icmpType: 128, icmpCode: 0 }, 'allow'],
    ['allow icmpv6 type 128', { src: 'fd00::9', dst: 'fd80::1', protocol: 'icmpv6', icmpType: 128, icmpCode: 0 }, 'allow'],
    ['allow icmpv6 type 255', { src: 'fd00::9', dst: 'fd80::1', protocol: 'icmpv6', icmpType: 128, icmpCode: 0 }, 'deny'],
    ['allow icmpv6', ping('192.0.2.1', '10.0.0.1'), 'deny'],
    ['allow from cidr 192.0.2.0/24', tcp('192.0.2.200', '10.0.0.1', 80), 'allow'],
    ['allow from cidr 192.0.2.0/24', tcp('192.0.3.1', '10.0.0.1', 80), 'deny'],
    ['allow from cidr 192.0.2.77/24', tcp('192.0.2.1', '10.0.0.1', 80), 'allow'],
    ['allow to cidr 10.0.0.1/32', tcp('192.0.2.1', '10.0.0.1', 80), 'allow'],
    ['allow from cidr 192.0.2.0/24', tcp('fd00::9', 'fd80::1', 80), 'deny'],
    ['allow from cidr fd00::/64', tcp('fd00::9', 'fd80::1', 80), 'allow'],
    ['allow from cidr fd00::/64', tcp('192.0.2.1', '10.0.0.1', 80), 'deny'],
    ['allow tcp from cidr 192.0.2.0/24 to ports 80', tcp('192.0.2.1', '10.0.0.1', 80), 'allow'],
    ['allow tcp from cidr 192.0.2.0/24 to ports 80', tcp('192.0.2.1', '10.0.0.1', 81), 'deny'],
    ['allow tcp from cidr 192.0.2.0/24 to ports 80', tcp('192.0.9.1', '10.0.0.1', 80), 'deny'],
    ['allow tcp to ports 80', tcp('fd00::9', 'fd80::1', 80), 'allow'],
  ])('%s with %j: %s', (rule, packet, expected) => {
    expect(verdict(rule, packet)).toBe(expected);
  });

  it('ports beyond 15 (several multiport rules) still match as one list', () => {
    const ports = Array.from({ length: 20 }, (_, i) => 1000 + i).join(',');
    expect(verdict(`allow tcp to ports ${ports}`, tcp('192.0.2.1', '10.0.0.1', 1019))).toBe('allow');
    expect(verdict(`allow tcp to ports ${ports}`, tcp('192.0.2.1', '10.0.0.1', 1020))).toBe('deny');
  });
});

describe('evaluate: endpoints that are not active (found by test/e2e/policy-property.test.ts)', () => {
  // calico-node programs no chains and no route for them: what they send meets "From unknown
  // endpoint", and nothing reaches them, whatever their profiles say. Their tags still count.
  const open = profile('open', ['open'], ['allow'], ['allow']);
  const m = model(
    [open],
    [endpoint('up', ['open'], ['10.0.0.1/32']), { ...endpoint('down', ['open'], ['10.0.0.2/32']), active: false }, endpoint('other', ['open'], ['10.0.0.3/32'])],
  );

  it('drops what an inactive endpoint sends, and what is sent to it', () => {
    expect(evaluate(m, tcp('10.0.0.2', '10.0.0.1', 80))).toEqual({
      verdict: 'deny',
      steps: [{ endpoint: 'down', direction: 'outbound', profile: null, rule: null, ruleText: null, verdict: 'inactive' }],
    });
    expect(evaluate(m, tcp('10.0.0.1', '10.0.0.2', 80))).toEqual({
      verdict: 'deny',
      steps: [
        { endpoint: 'up', direction: 'outbound', profile: 'open', rule: 1, ruleText: 'allow', verdict: 'allow' },
        { endpoint: 'down', direction: 'inbound', profile: null, rule: null, ruleText: null, verdict: 'inactive' },
      ],
    });
    expect(evaluate(m, tcp('192.0.2.1', '10.0.0.2', 80)).verdict).toBe('deny');
    expect(evaluate(m, tcp('10.0.0.1', '10.0.0.3', 80)).verdict).toBe('allow');
  });

  it('still counts an inactive endpoint in its profiles\' tags', () => {
    const tagged = model(
      [profile('src', ['t'], [], ['allow']), profile('dst', [], ['allow from tag t'], ['allow'])],
      [{ ...endpoint('a', ['src'], ['10.0.0.1/32']), active: false }, endpoint('b', ['src'], ['10.0.0.4/32']), endpoint('c', ['dst'], ['10.0.0.5/32'])],
    );
    expect(evaluate(tagged, tcp('10.0.0.4', '10.0.0.5', 80)).verdict).toBe('allow');
  });
});

describe('evaluate: a host and its own workloads (found by test/e2e/policy-property.test.ts)', () => {
  // The agent's INPUT chain accepts DHCP, DNS and neighbour discovery before the workload's
  // outbound policy, and its OUTPUT chain polices nothing: neither path is FORWARD's.
  const closed = profile('closed', [], [], []);
  const m: PolicyModel = {
    ...model([closed], [endpoint('w', ['closed'], ['10.0.0.1/32'], ['fd80::1/128']), endpoint('far', ['closed'], ['10.0.1.1/32'], [], 'host2'), { ...endpoint('down', ['closed'], ['10.0.0.2/32']), active: false }]),
    hostAddresses: new Map([
      ['host1', ['172.16.0.1', 'FD00::1']],
      ['host2', ['172.16.0.2']],
    ]),
  };

  it('a host reaches its own workloads whatever their inbound policy, but not another host\'s', () => {
    expect(evaluate(m, tcp('172.16.0.1', '10.0.0.1', 80))).toEqual({
      verdict: 'allow',
      steps: [{ endpoint: 'w', direction: 'inbound', profile: null, rule: null, ruleText: null, verdict: 'host' }],
    });
    expect(evaluate(m, ping('fd00::1', 'fd80::1')).verdict).toBe('allow');
    expect(evaluate(m, tcp('172.16.0.2', '10.0.0.1', 80)).verdict).toBe('deny');
    expect(evaluate(m, tcp('172.16.0.1', '10.0.1.1', 80)).verdict).toBe('deny');
    // Nothing is routed to an inactive endpoint, from its host either.
    expect(evaluate(m, tcp('172.16.0.1', '10.0.0.2', 80)).steps[0]?.verdict).toBe('inactive');
  });

  it('a workload gets DHCP, DHCPv6, DNS and neighbour discovery from its own host whatever its outbound policy', () => {
    for (const packet of [
      udp('10.0.0.1', '172.16.0.1', 67, 68),
      udp('10.0.0.1', '172.16.0.1', 53),
      udp('fd80::1', 'fd00::1', 547, 546),
      { src: 'fd80::1', dst: 'fd00::1', protocol: 'icmpv6', icmpType: 135, icmpCode: 0 } as const,
    ]) {
      expect(evaluate(m, packet).steps).toEqual([{ endpoint: 'w', direction: 'outbound', profile: null, rule: null, ruleText: null, verdict: 'service' }]);
    }
    // Its request passes the INPUT chain too, but with no route to it no answer comes back.
    expect(evaluate(m, udp('10.0.0.2', '172.16.0.1', 53)).steps[0]?.verdict).toBe('inactive');
  });

  it('anything else to its host, and those services anywhere else, meet its outbound policy', () => {
    for (const packet of [
      udp('10.0.0.1', '172.16.0.1', 67, 40000),
      udp('10.0.0.1', '172.16.0.1', 547, 546),
      tcp('10.0.0.1', '172.16.0.1', 53),
      ping('10.0.0.1', '172.16.0.1'),
      udp('10.0.0.1', '172.16.0.2', 53),
      udp('10.0.0.1', '192.0.2.1', 67, 68),
    ]) {
      expect(evaluate(m, packet).verdict).toBe('deny');
    }
  });
});

describe('evaluate: scale', () => {
  it('answers over thousands of endpoints from indexes built once per model', () => {
    const profiles = Array.from({ length: 1000 }, (_, i) => profile(`p${i}`, [`t${i}`], [`allow tcp from tag t${(i + 1) % 1000} to ports 80`], ['allow']));
    const endpoints = Array.from({ length: 2000 }, (_, i) => endpoint(`e${i}`, [`p${i % 1000}`], [`10.${Math.floor(i / 250)}.${i % 250}.1/32`]));
    const m = model(profiles, endpoints);
    // e1 (p1) may reach e0 (p0 admits tag t1); e2 (p2) may not.
    expect(evaluate(m, tcp('10.0.1.1', '10.0.0.1', 80)).verdict).toBe('allow');
    expect(evaluate(m, tcp('10.0.2.1', '10.0.0.1', 80)).verdict).toBe('deny');
  });
});

describe('evaluate: a trace needs only the endpoints at its two addresses and their profiles', () => {
  // `policy trace` decodes only the endpoints holding the packet's source and destination, and
  // reads only their profiles (src/cli/commands/policy/model.ts, modelFor): the verdict and every
  // step must be the same as with the whole model.
  const TAGS = ['a', 'b', 'c'];
  const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.9'];
  const ruleWords = fc.constantFrom('allow', 'deny', 'allow from tag a', 'deny from tag b', 'allow tcp to ports 80', 'allow to tag c', 'deny tcp from tag c to ports 80', 'allow from cidr 10.0.0.0/30');
  const worldArb = fc.record({
    profiles: fc.array(
      fc.record({ tags: fc.subarray(TAGS), inbound: fc.array(ruleWords, { maxLength: 3 }), outbound: fc.array(ruleWords, { maxLength: 3 }) }),
      { minLength: 1, maxLength: 5 },
    ),
    // Profile numbers up to 5: some name no profile. Addresses may repeat across endpoints.
    endpoints: fc.array(fc.record({ profiles: fc.array(fc.nat(5), { maxLength: 3 }), addresses: fc.subarray(ADDRESSES.slice(0, 4), { minLength: 1 }) }), { maxLength: 6 }),
    src: fc.constantFrom(...ADDRESSES),
    dst: fc.constantFrom(...ADDRESSES),
    port: fc.constantFrom(80, 443),
  });

  it('the same trace from the two addresses\' endpoints and their profiles as from the whole model', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const profiles = world.profiles.map((p, i) => profile(`p${i}`, p.tags, p.inbound, p.outbound));
        const endpoints = world.endpoints.map((e, i) => endpoint(`e${i}`, e.profiles.map((n) => `p${n}`), e.addresses.map((a) => `${a}/32`)));
        const whole = model(profiles, endpoints);
        const holders = endpoints.filter((e) => e.ipv4Nets.some((n) => n === `${world.src}/32` || n === `${world.dst}/32`));
        const needed = new Set(holders.flatMap((e) => e.profileIds));
        const focused: PolicyModel = { profiles: new Map([...whole.profiles].filter(([id]) => needed.has(id))), endpoints: holders };
        const packet = tcp(world.src, world.dst, world.port);
        expect(evaluate(focused, packet)).toEqual(evaluate(whole, packet));
      }),
      fuzzParams(300),
    );
  });
});
