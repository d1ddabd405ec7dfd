import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { fakeWorld } from '../fakes/cli';
import { fuzzParams, hostileJson, hostileString as anyHostileString, mangledObject, RAW_CONTROL, sometimesHostile, storedText } from '../fakes/fuzz';

/**
 * Hostile values in etcd, read by every CLI listing: nothing crashes, each bad value is one warning
 * on stderr (once, however many listings meet it in one command), and the listings still print.
 */

/**
 * Names of at most a few hundred characters, so that many runs stay quick: a 10 000-character
 * cell pads every row of its column that wide. test/e2e/hostile-etcd.test.ts lists those.
 */
const hostileString = anyHostileString.filter((s) => s.length <= 400);

const segmentArb = fc.oneof(fc.constantFrom('web', 'host1', 'e1', 'a'.repeat(64)), hostileString.filter((s) => s !== '' && !s.includes('/')));

const seedArb: fc.Arbitrary<{ key: string; value: string }> = fc.oneof(
  fc.tuple(segmentArb, fc.constantFrom('tags', 'rules', 'labels'), storedText(fc.oneof(fc.array(hostileString, { maxLength: 3 }), hostileJson))).map(([id, leaf, value]) => ({ key: `/calico/v1/policy/profile/${id}/${leaf}`, value })),
  fc.tuple(segmentArb, storedText(fc.tuple(hostileString, hostileString).map(([tag, net]) => ({ inbound_rules: [{ action: 'allow', src_tag: tag }], outbound_rules: [{ action: 'deny', dst_net: net }] })))).map(([id, value]) => ({ key: `/calico/v1/policy/profile/${id}/rules`, value })),
  fc
    .tuple(
      segmentArb,
      segmentArb,
      storedText(
        mangledObject({ state: 'active', name: 'cali1', mac: 'EE:EE:EE:EE:EE:EE', profile_ids: ['web'], ipv4_nets: ['10.65.0.1/32'], ipv6_nets: [], labels: {} }).chain((endpoint) =>
          fc.record({ name: sometimesHostile(fc.constant(endpoint.name)), mac: sometimesHostile(fc.constant(endpoint.mac)), profile_ids: fc.array(hostileString, { maxLength: 2 }) }).map((fields) => ({ ...endpoint, ...fields })),
        ),
      ),
    )
    .map(([host, id, value]) => ({ key: `/calico/v1/host/${host}/workload/libnetwork/libnetwork/endpoint/${id}`, value })),
  fc.tuple(fc.constantFrom(4, 6), segmentArb, storedText(mangledObject({ cidr: '10.65.0.0/16', ipip: 'tunl0', masquerade: true }))).map(([v, name, value]) => ({ key: `/calico/v1/ipam/v${v}/pool/${name}`, value })),
  fc.tuple(segmentArb, hostileString).map(([host, value]) => ({ key: `/calico/v1/host/${host}/bird_ip`, value })),
  fc.tuple(segmentArb, fc.constantFrom(4, 6), hostileString).map(([host, v, value]) => ({ key: `/calico/bgp/v1/host/${host}/ip_addr_v${v}`, value })),
  fc.tuple(segmentArb, fc.constantFrom('as_num', 'peer_v4/10.0.0.9'), storedText(hostileJson)).map(([host, leaf, value]) => ({ key: `/calico/bgp/v1/host/${host}/${leaf}`, value })),
  fc.tuple(fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1'), storedText(mangledObject({ ip: '10.0.0.1', as_num: 64512 }))).map(([ip, value]) => ({ key: `/calico/bgp/v1/global/peer_v${ip.includes(':') ? 6 : 4}/${ip}`, value })),
  storedText(hostileJson).map((value) => ({ key: '/calico/bgp/v1/global/as_num', value })),
  fc.tuple(fc.constantFrom('10.65.0.0-26', '10.65.0.64-26'), storedText(mangledObject({ cidr: '10.65.0.0/26', affinity: 'host:host1', allocations: [0, null], unallocated: [1], attributes: [{ handle_id: null, secondary: { host: 'host1' } }] }))).map(([block, value]) => ({ key: `/calico/ipam/v2/assignment/ipv4/block/${block}`, value })),
);

const LISTINGS: string[][] = [
  ['profile', 'show'],
  ['profile', 'show', '--detailed'],
  ['profile', 'web', 'rule', 'show'],
  ['profile', 'web', 'tag', 'show'],
  ['endpoint', 'show'],
  ['endpoint', 'show', '--detailed'],
  ['pool', 'show'],
  ['node', 'show'],
  ['bgp', 'peer', 'show'],
  ['ipam', 'info', '10.65.0.1'],
];

/** src/cli/printable.ts (the terminal escaping, from another branch) makes the escape property hold. */
const ESCAPING = existsSync(join(__dirname, '../../src/cli/printable.ts'));

describe('every listing, with hostile values in etcd', () => {
  it('prints, or fails on one line, with each bad value warned about once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seedArb, { maxLength: 8 }), async (seeds) => {
        const world = fakeWorld();
        world.kv.seed('/calico/v1/policy/profile/web/tags', ['web']);
        world.kv.seed('/calico/v1/policy/profile/web/rules', { inbound_rules: [], outbound_rules: [] });
        for (const { key, value } of seeds) world.kv.seed(key, value);
        const before = world.kv.dump();
        for (const argv of LISTINGS) {
          const result = await world.run(argv);
          const lines = result.stderr.split('\n').slice(0, -1);
          const warnings = lines.filter((line) => line.startsWith('Warning: '));
          expect(new Set(warnings).size).toBe(warnings.length);
          expect(warnings.length).toBeLessThanOrEqual(seeds.length);
          if (result.code === 0) expect(lines).toEqual(warnings);
          else {
            expect(result.code).toBe(1);
            expect(lines.slice(0, -1)).toEqual(warnings);
            expect(lines.at(-1)).not.toMatch(/^Warning: |Internal error/);
          }
          for (const line of lines) expect(line).not.toMatch(RAW_CONTROL);
        }
        expect(world.kv.dump()).toEqual(before);
      }),
      // A bound on the whole property: one run in a few hundred has taken minutes (not yet found why).
      { ...fuzzParams(100), interruptAfterTimeLimit: 30_000 },
    );
  }, 600_000);

  // Until src/cli/printable.ts is merged in, raw control characters reach the terminal: expected to fail here.
  (ESCAPING ? it : it.failing)('print stored names with control characters escaped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seedArb, { maxLength: 12 }), async (seeds) => {
        const world = fakeWorld();
        for (const { key, value } of seeds) world.kv.seed(key, value);
        for (const argv of LISTINGS) expect((await world.run(argv)).stdout).not.toMatch(RAW_CONTROL);
      }),
      fuzzParams(100),
    );
  }, 120_000);
});

describe('regressions the properties found', () => {
  it('a stored value with DEL or C1 controls is warned about with them escaped', async () => {
    const world = fakeWorld();
    world.kv.seed('/calico/v1/policy/profile/web/tags', ['web']);
    world.kv.seed('/calico/v1/policy/profile/web/rules', { inbound_rules: [{ action: 'allow', src_tag: '\x7f\u0085' }], outbound_rules: [] });
    expect(await world.run(['profile', 'web', 'rule', 'show'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'The data stored at /calico/v1/policy/profile/web/rules is invalid: inbound_rules[0].src_tag: "\\x7f\\x85" is not a tag (numbers, letters, dots, dashes and underscores)\n',
    });
  });

  it('warnings go to the command\'s own stderr, once per command', async () => {
    const world = fakeWorld();
    const key = '/calico/v1/host/host1/workload/libnetwork/libnetwork/endpoint/e1';
    world.kv.seed(key, '{not json');
    for (let run = 0; run < 2; run++) {
      expect((await world.run(['endpoint', 'show', '--detailed'])).stderr).toBe(`Warning: The data stored at ${key} is invalid: not valid JSON; skipped.\n`);
    }
  });
  it('an endpoint with several bad addresses is one warning naming them all', async () => {
    const world = fakeWorld();
    const key = '/calico/v1/host/web/workload/libnetwork/libnetwork/endpoint/e1';
    world.kv.seed(key, { state: 'active', name: 'cali1', mac: '', profile_ids: [], ipv4_nets: ['', ' ', '10.65.0.1/32', ';'], ipv6_nets: ['10.0.0.1/32'], labels: {} });
    const result = await world.run(['endpoint', 'show', '--detailed']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('10.65.0.1/32');
    expect(result.stderr).toBe(
      `Warning: The data stored at ${key} is invalid: ipv4_nets holds "", " " and ";", which are not IPv4 host addresses (/32); ipv6_nets holds "10.0.0.1/32", which is not an IPv6 host address (/128); skipped: those addresses are ignored.\n`,
    );
  });
});
