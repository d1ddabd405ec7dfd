import { existsSync, rmSync } from 'fs';
import fc from 'fast-check';
import { fuzzParams, hostileJson, hostileString, mangledObject, RAW_CONTROL, storedText } from '../fakes/fuzz';
import { startNode } from './harness/calico-lab';
import { bulkPut, makeLinks, type Put, syntheticEndpoint } from './harness/faults';
import { Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * Hostile values (test/fakes/fuzz.ts: quotes, spaces, `;`, newlines, control characters, very
 * long, non-ASCII, wrong types, wide prefixes) in a real etcd, read by a real calico-node that
 * programs real iptables, ipsets and routes in a lab host (its own namespaces; no Docker: the
 * agent runs without its plugin). The agent keeps running, the valid items still apply, every
 * kernel name is one of the agent's strict names, nothing reaches a shell (a canary file that a
 * `$(…)` or a backquote would create never appears), and calicoctl's listings warn one line per
 * bad value.
 */
jest.setTimeout(300_000);

/** Would be created by any of the hostile values below if one ever reached a shell. */
const CANARY = `/tmp/calico-hostile-canary-${process.pid}`;
const SHELL_WORDS = [`$(touch ${CANARY})`, `\`touch ${CANARY}\``, `; touch ${CANARY}`, `a'; touch ${CANARY}; '`, `"; touch ${CANARY}; "`, `|touch ${CANARY}`, `\ntouch ${CANARY}\n`];
const GOOD = 'hostile-good';
const GOOD_TAG = 'zgood';
const GOOD_POOL = '10.202.0.0/16';

let lab: Lab;
let h1: LabHost;

/** n values; under a pinned seed (CI), each round its own seed, so the watch round brings new values. */
function sample<T>(arb: fc.Arbitrary<T>, n: number, round: number): T[] {
  const params = fuzzParams<T>(n);
  return fc.sample(arb, params.seed === undefined ? params : { ...params, seed: params.seed + round });
}
const words = fc.oneof(hostileString, fc.constantFrom(...SHELL_WORDS));

/** Hostile profiles, endpoints of this host and of another, pools, host and BGP values. */
function hostilePuts(hostname: string, n: number, round: number): Put[] {
  const segment = words.filter((s) => s !== '' && !s.includes('/'));
  const endpoint = fc.record({
    state: fc.oneof(fc.constant('active'), hostileJson),
    name: fc.oneof(fc.constantFrom('calizz1', 'docker0', 'eth0', 'lo'), words),
    mac: fc.oneof(fc.constant('ee:ee:ee:ee:ee:ee'), hostileJson),
    profile_ids: fc.oneof(fc.array(fc.oneof(fc.constant(GOOD), words), { maxLength: 3 }), hostileJson),
    ipv4_nets: fc.oneof(fc.array(fc.oneof(fc.constantFrom('0.0.0.0/0', '10.0.0.0/8', '10.202.0.9/32', '10.202.0.10'), words), { maxLength: 3 }), hostileJson),
    ipv6_nets: fc.oneof(fc.array(fc.oneof(fc.constantFrom('::/0', 'fd00::1/128'), words), { maxLength: 2 }), hostileJson),
  });
  const pool = fc.record({ cidr: fc.oneof(fc.constantFrom('0.0.0.0/0', '10.0.0.0/8', '172.17.0.0/16', '10.203.0.0/33'), words), ipip: hostileJson, masquerade: hostileJson, ipam: hostileJson });
  const arb: fc.Arbitrary<Put> = fc.oneof(
    fc.tuple(segment, storedText(fc.array(words, { maxLength: 3 }))).map(([id, value]) => ({ key: `/calico/v1/policy/profile/${id}/tags`, value })),
    fc.tuple(segment, storedText(fc.tuple(words, words, words).map(([tag, net, port]) => ({ inbound_rules: [{ action: 'allow', src_tag: tag }, { action: 'deny', dst_net: net }, { action: 'allow', protocol: 'tcp', dst_ports: [port] }], outbound_rules: [{ action: tag }] })))).map(([id, value]) => ({ key: `/calico/v1/policy/profile/${id}/rules`, value })),
    // The good profile's own tag set gets hostile members from other hosts' endpoints.
    fc.tuple(segment, storedText(endpoint.chain((e) => mangledObject(e)))).map(([id, value]) => ({ key: `/calico/v1/host/hostile-elsewhere/workload/libnetwork/libnetwork/endpoint/${id}`, value })),
    fc.tuple(segment, storedText(endpoint.chain((e) => mangledObject(e)))).map(([id, value]) => ({ key: `/calico/v1/host/${hostname}/workload/faults/w/endpoint/${id}`, value })),
    fc.tuple(segment, storedText(pool)).map(([id, value]) => ({ key: `/calico/v1/ipam/v4/pool/${id}`, value })),
    fc.tuple(segment, storedText(words)).map(([h, value]) => ({ key: `/calico/bgp/v1/host/${h}/ip_addr_v4`, value })),
    fc.tuple(words, storedText(hostileJson)).map(([ip, value]) => ({ key: `/calico/bgp/v1/global/peer_v4/${ip}`, value })),
  );
  // Unique keys: a later put of one key would hide the earlier value.
  const puts = new Map<string, Put>();
  for (const put of sample(arb, n, round)) puts.set(put.key, put);
  return [...puts.values()];
}

/** The valid items: a profile with a tag and a rule, one endpoint of this host on a link, a pool. */
function validPuts(hostname: string): Put[] {
  const { id, iface, ip } = syntheticEndpoint('zh', 1);
  return [
    { key: `/calico/v1/policy/profile/${GOOD}/tags`, value: JSON.stringify([GOOD_TAG]) },
    { key: `/calico/v1/policy/profile/${GOOD}/rules`, value: JSON.stringify({ inbound_rules: [{ action: 'allow', src_tag: GOOD_TAG }, { action: 'allow', protocol: 'tcp', dst_ports: [3306] }], outbound_rules: [{ action: 'allow' }] }) },
    { key: `/calico/v1/host/${hostname}/workload/faults/w/endpoint/${id}`, value: JSON.stringify({ state: 'active', name: iface, mac: 'ee:ee:ee:ee:ee:ee', profile_ids: [GOOD], ipv4_nets: [`${ip}/32`], ipv6_nets: [] }) },
    { key: `/calico/v1/ipam/v4/pool/${GOOD_POOL.replace('/', '-')}`, value: JSON.stringify({ cidr: GOOD_POOL }) },
  ];
}

beforeAll(async () => {
  rmSync(CANARY, { force: true });
  lab = await Lab.start({ hosts: 1 });
  h1 = lab.hosts[0] as LabHost;
  await makeLinks(h1, 'zh', 2);
}, 120_000);

afterAll(async () => {
  await h1?.kill('calico-node');
  await lab?.stop();
  rmSync(CANARY, { force: true });
}, 60_000);

const saved = async () => (await h1.exec(['iptables-save', '-t', 'filter'])).stdout;
const sets = async () => (await h1.exec(['ipset', 'list', '-n'])).stdout.split('\n').filter(Boolean);
const members = async (set: string) => (await h1.exec(['ipset', 'list', set])).stdout;

/** What the kernel holds of ours uses only the agent's strict names and plain words. */
async function expectStrictKernel(): Promise<void> {
  const text = await saved();
  for (const line of text.split('\n').filter((l) => /cali/.test(l))) {
    // Printable ASCII only, and none of a shell's or a rule's metacharacters from the values.
    expect({ line, ok: /^[\x20-\x7e]*$/.test(line) && !/[;`$|&<>\\']/.test(line) }).toEqual({ line, ok: true });
  }
  for (const chain of text.split('\n').filter((l) => l.startsWith(':cali')).map((l) => l.slice(1).split(' ')[0] as string)) {
    expect({ chain, ok: /^cali-[A-Za-z0-9_.-]{1,24}$/.test(chain) && chain.length <= 28 }).toEqual({ chain, ok: true });
  }
  for (const set of (await sets()).filter((s) => s.startsWith('cali'))) {
    expect({ set, ok: /^cali[46]-[A-Za-z0-9_.-]+$/.test(set) && set.length <= 31 }).toEqual({ set, ok: true });
  }
  const routes = (await h1.exec(['ip', '-4', 'route', 'show', 'proto', '157'])).stdout;
  // Only host addresses into our links, and the good pool's blackhole.
  // Only host addresses into our links, and blackholes of pools (a wide one such as 10.0.0.0/8 is
  // a valid pool), never of every address.
  for (const line of routes.split('\n').filter(Boolean)) expect(line).toMatch(/^(blackhole \d+\.\d+\.\d+\.\d+\/\d+|10\.\d+\.\d+\.\d+ dev cali[A-Za-z0-9_.-]{1,11} scope link)\s*$/);
  expect(routes).not.toMatch(/blackhole (0\.0\.0\.0\/0|default)/);
  // The host's own routes are untouched.
  const own = (await h1.exec(['ip', '-4', 'route', 'show', 'table', 'main'])).stdout;
  expect(own).toMatch(/^default via 10\.200\.0\.254 dev eth0/m);
  expect(own).toMatch(/^10\.200\.0\.0\/24 dev eth0 proto kernel/m);
  expect(existsSync(CANARY)).toBe(false);
}

async function expectGoodApplied(extraPort?: number): Promise<void> {
  const { ip } = syntheticEndpoint('zh', 1);
  await waitUntil('the valid items in the kernel', async () => {
    const text = await saved();
    return (
      text.includes(`:cali-pi-${GOOD}`) &&
      (extraPort === undefined || text.includes(`--dports ${extraPort}`)) &&
      (await members(`cali4-t-${GOOD_TAG}`)).includes(`${ip}\n`) &&
      (await h1.exec(['ip', '-4', 'route', 'show', 'proto', '157'])).stdout.includes(`blackhole ${GOOD_POOL}`)
    );
  }, 60_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${h1.log('calico-node').split('\n').slice(-30).join('\n')}`);
  });
}

let written: Put[] = [];

it('calico-node starts on a snapshot full of hostile values, applies the valid items and programs only strict names', async () => {
  written = [...hostilePuts(h1.name, 300, 0), ...validPuts(h1.name)];
  await bulkPut(h1, written);
  await bulkPut(h1, [{ key: '/calico/v1/Ready', value: 'true' }]);
  await startNode(h1, ['--no-plugin']);
  await expectGoodApplied();
  await expectStrictKernel();
  expect(h1.processes.has('calico-node')).toBe(true);
});

it('hostile values written while it runs are skipped too, and a later valid change still applies', async () => {
  const more = hostilePuts(h1.name, 300, 1);
  await bulkPut(h1, more);
  written.push(...more);
  const added = await h1.calicoctl(['profile', GOOD, 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '4343']);
  expect(added).toMatchObject({ code: 0 });
  await expectGoodApplied(4343);
  await expectStrictKernel();
  expect(h1.processes.has('calico-node')).toBe(true);
  // The agent's log holds each warning on one line, without raw control characters.
  for (const line of h1.log('calico-node').split('\n')) expect({ line, raw: RAW_CONTROL.test(line) }).toEqual({ line, raw: false });
});

it('calicoctl listings print the valid items, one warning line per bad value, and nothing raw on the terminal', async () => {
  for (const args of [['profile', 'show', '--detailed'], ['endpoint', 'show', '--detailed'], ['pool', 'show'], ['node', 'show'], ['bgp', 'peer', 'show'], ['diags', '--check']]) {
    const result = await h1.calicoctl(args);
    // diags --check finds the hostile local endpoints' missing veths (exit 1); the listings succeed.
    expect({ args, code: result.code, stderr: result.code === 0 || args[0] === 'diags' ? '' : result.stderr.slice(0, 2000) }).toEqual({ args, code: args[0] === 'diags' ? result.code : 0, stderr: '' });
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    for (const line of [...result.stdout.split('\n'), ...result.stderr.split('\n')]) expect({ args, line, raw: RAW_CONTROL.test(line) }).toEqual({ args, line, raw: false });
    // Each bad key is warned about on at most one line.
    const warnings = result.stderr.split('\n').filter((line) => line.includes(' is invalid'));
    const keys = warnings.map((line) => /stored at (.*) is invalid/.exec(line)?.[1] ?? line);
    expect(new Set(keys).size).toBe(keys.length);
    if (args[0] === 'profile') expect(result.stdout).toContain(GOOD);
    if (args[0] === 'pool') expect(result.stdout).toContain(GOOD_POOL);
  }
  expect(existsSync(CANARY)).toBe(false);
});
