import fc from 'fast-check';
import { BgpController } from '../../../../src/agent/bgp/controller';
import { reportOnce } from '../../../../src/datastore/errors';
import { UpdateDecoder } from '../../../../src/datastore/syncer';
import { parseIp } from '../../../../src/policy/cidr';
import { fuzzParams, hostileJson, hostileString, mangledObject, storedText } from '../../../fakes/fuzz';
import { memoryLog } from '../plugin/fakes';

/**
 * Hostile BGP settings, host addresses, blocks and pools in etcd, through the syncer's decoder and
 * the controller to BIRD's configuration: whatever etcd holds, the text BIRD is given is plain
 * ASCII, its braces balance, and every protocol name, neighbour, AS number and route is one of
 * the shapes the renderer makes from valid values.
 */

const hostArb = fc.oneof(fc.constantFrom('host1', 'host2', 'host3'), hostileString.filter((h) => h !== '' && !h.includes('/')));
const ipArb = fc.oneof(fc.constantFrom('10.200.0.2', '10.200.0.3', 'fd00::2', '0.0.0.0', '::'), hostileString);
const asArb = fc.oneof(fc.constantFrom('64512', '65000', '4294967295', '4294967296', '0', '-1', '1e3', '64512 ; }'), hostileString);
const cidrSegArb = fc.oneof(fc.constantFrom('192.168.0.0-26', '0.0.0.0-0', 'fd80::-122', '192.168.0.0-33'), hostileString.filter((s) => !s.includes('/')));

const keyArb: fc.Arbitrary<{ key: string; value: string }> = fc.oneof(
  fc.tuple(hostArb, fc.constantFrom(4, 6), ipArb).map(([host, v, value]) => ({ key: `/calico/bgp/v1/host/${host}/ip_addr_v${v}`, value })),
  fc.tuple(hostArb, asArb).map(([host, value]) => ({ key: `/calico/bgp/v1/host/${host}/as_num`, value })),
  fc.tuple(hostArb, hostileString).map(([host, value]) => ({ key: `/calico/bgp/v1/host/${host}/loglevel`, value })),
  fc.tuple(fc.constantFrom('host1', 'host2'), ipArb, storedText(fc.tuple(ipArb, asArb).chain(([ip, as_num]) => mangledObject({ ip, as_num })))).map(([host, ip, value]) => ({ key: `/calico/bgp/v1/host/${host}/peer_v${ip.includes(':') ? 6 : 4}/${ip}`, value })),
  fc.tuple(ipArb, storedText(fc.tuple(ipArb, asArb).chain(([ip, as_num]) => mangledObject({ ip, as_num })))).map(([ip, value]) => ({ key: `/calico/bgp/v1/global/peer_v${ip.includes(':') ? 6 : 4}/${ip}`, value })),
  asArb.map((value) => ({ key: '/calico/bgp/v1/global/as_num', value })),
  storedText(fc.oneof(fc.constant({ enabled: false }), hostileJson)).map((value) => ({ key: '/calico/bgp/v1/global/node_mesh', value })),
  hostileString.map((value) => ({ key: '/calico/bgp/v1/global/loglevel', value })),
  fc.tuple(fc.oneof(fc.constant('host1'), hostArb), fc.constantFrom(4, 6), cidrSegArb, hostileString).map(([host, v, cidr, value]) => ({ key: `/calico/ipam/v2/host/${host}/ipv${v}/block/${cidr}`, value })),
  fc.tuple(fc.constantFrom(4, 6), cidrSegArb, storedText(mangledObject({ cidr: '192.168.0.0/16', disabled: false }))).map(([v, name, value]) => ({ key: `/calico/v1/ipam/v${v}/pool/${name}`, value })),
);

/** The shapes of every line the renderer writes (src/agent/bgp/bird-config.ts), with their values checked. */
function expectPlainConfig(text: string): void {
  let depth = 0;
  for (const line of text.split('\n')) {
    expect(line).toMatch(/^[\x20-\x7e]*$/);
    if (line.trimStart().startsWith('#')) continue;
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    expect(depth).toBeGreaterThanOrEqual(0);
    const protocol = /^protocol bgp (\S+) from bgp_template \{$/.exec(line);
    if (protocol) expect(protocol[1]).toMatch(/^[A-Za-z0-9_]+$/);
    const neighbour = /^ {2}neighbor (\S+) as (\S+);$/.exec(line);
    if (neighbour) {
      expect(parseIp(neighbour[1] as string)).toBeDefined();
      expect(neighbour[2]).toMatch(/^\d{1,10}$/);
    }
    if (line.includes(' as ') || line.includes('neighbor') || line.includes('local as')) expect(line).toMatch(/^ {2}(neighbor \S+ as \d+|local as \d+);$|^\s*#/);
    for (const [, cidr] of line.matchAll(/(?:route|net [=~]) \[? ?([0-9a-f.:]+\/\d+)/g)) expect(cidr).toMatch(/^[0-9a-f.:]+\/\d{1,3}$/);
  }
  expect(depth).toBe(0);
}

describe('hostile BGP values reach BIRD only as plain configuration', () => {
  // The controller waits a few milliseconds for a burst to settle; fake time keeps thousands of renders fast.
  beforeAll(() => jest.useFakeTimers());
  afterAll(() => jest.useRealTimers());
  const settle = async (controller: BgpController) => {
    await jest.advanceTimersByTimeAsync(100);
    await controller.settled();
  };

  it('renders plain text for both families, and reports each bad value once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(keyArb, { maxLength: 15 }), fc.array(keyArb, { maxLength: 5 }), async (snapshot, changes) => {
        const texts: string[] = [];
        const target = { configure: async (text: string) => void texts.push(text) };
        const warnings: string[] = [];
        const decoder = new UpdateDecoder(reportOnce((warning) => warnings.push(warning)));
        const log = memoryLog();
        const controller = new BgpController('host1', { ipv4: '10.200.0.1', ipv6: 'fd00:200::1' }, { 4: target, 6: target }, log);
        controller.resync(decoder.snapshot([...new Map(snapshot.map((kv) => [kv.key, kv])).values()]));
        await settle(controller);
        controller.update(decoder.changes(changes));
        await settle(controller);
        controller.stop();
        expect(texts.length).toBeGreaterThan(0);
        for (const text of texts) expectPlainConfig(text);
        expect(new Set(warnings).size).toBe(warnings.length);
        for (const warning of warnings) expect(warning).toMatch(/^[^\n]+$/);
        expect(log.lines.filter((line) => line.startsWith('ERROR'))).toEqual([]);
      }),
      fuzzParams(200),
    );
  }, 120_000);
});
