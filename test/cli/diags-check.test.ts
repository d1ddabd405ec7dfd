import { type CheckInput, check, type EndpointView, fixesOf } from '../../src/cli/commands/diags/check';
import { parseBirdRoutes, parseIptablesSave, parseLinks, parseRoutes } from '../../src/cli/commands/diags/sources';
import { encodeEndpoint } from '../../src/datastore/endpoints';
import { endpointKey } from '../../src/datastore/keys';
import { encodeBlock, allocate, emptyBlock } from '../../src/datastore/blocks';
import { blockKey, affinityKey } from '../../src/datastore/keys';
import { fakeWorld, networkId } from '../fakes/cli';

/**
 * `diags --check`: the pure comparison of etcd, kernel, BIRD and Docker views (check.ts), the
 * readers' parsers, and the command in-process against fakes (etcd in memory, the kernel's tools
 * answered by a fake runner).
 */

const HOST = 'host1';
const NET = networkId('net1');
const EP = 'a'.repeat(64);
const IFACE = `cali${EP.slice(0, 11)}`;

function endpoint(id = EP, nets = ['10.65.0.2/32']): EndpointView {
  return {
    key: endpointKey({ hostname: HOST, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id }),
    modRevision: 5,
    hostname: HOST,
    orchestrator: 'libnetwork',
    endpointId: id,
    iface: `cali${id.slice(0, 11)}`,
    state: 'active',
    profileIds: [NET],
    ipv4Nets: nets,
    ipv6Nets: [],
  };
}

/** A consistent host: one container on one network, its chains, set, route and veth, its block in BIRD. */
function clean(): CheckInput {
  const chains = parseIptablesSave(
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':cali-FORWARD - [0:0]',
      ':cali-INPUT - [0:0]',
      ':cali-OUTPUT - [0:0]',
      ':cali-FROM-ENDPOINT - [0:0]',
      ':cali-TO-ENDPOINT - [0:0]',
      `:cali-from-${EP.slice(0, 11)} - [0:0]`,
      `:cali-to-${EP.slice(0, 11)} - [0:0]`,
      `:cali-pi-_x - [0:0]`,
      '-A FORWARD -j cali-FORWARD',
      `-A cali-FROM-ENDPOINT -i ${IFACE} -g cali-from-${EP.slice(0, 11)}`,
      'COMMIT',
    ].join('\n'),
  );
  // Profile chains are named by the agent's own function: put the real names in.
  chains.delete('cali-pi-_x');
  const { profileChain, tagSet } = require('../../src/agent/dataplane/contract') as typeof import('../../src/agent/dataplane/contract');
  chains.set(profileChain(NET, 'inbound'), []);
  chains.set(profileChain(NET, 'outbound'), []);
  return {
    hostname: HOST,
    etcd: {
      revision: 10,
      endpoints: [endpoint()],
      profiles: [{ id: NET, tags: [NET], ruleTags: [NET] }],
      poolCidrs: ['10.65.0.0/16'],
      blocks: [{ key: blockKey(4, '10.65.0.0/26'), modRevision: 7, cidr: '10.65.0.0/26', version: 4, affinity: HOST, assigned: [{ address: '10.65.0.2', owner: HOST }] }],
      affinities: [{ version: 4, cidr: '10.65.0.0/26' }],
    },
    kernel: {
      chains: { 4: chains, 6: undefined },
      sets: [tagSet(4, NET)],
      routes: [
        { family: 4, net: '10.65.0.2/32', iface: IFACE },
        { family: 4, net: '10.65.0.0/16', iface: undefined },
      ],
      links: [IFACE],
    },
    bird: { routes: { 4: new Set(['10.65.0.0/26']), 6: undefined } },
    docker: { containers: [{ id: 'c1', name: 'workload-1', networks: [{ networkId: NET, endpointId: EP, addresses: ['10.65.0.2'] }]  }], calicoNetworks: new Set([NET]) },
  };
}

const messages = (input: CheckInput) => check(input).map((f) => f.message);

describe('the comparison (check.ts)', () => {
  it('finds nothing on a consistent host', () => {
    expect(check(clean())).toEqual([]);
  });

  it('an assigned address no endpoint and no container uses is an orphan, and releasing it is guarded by what was read', () => {
    const input = clean();
    const block = { ...input.etcd.blocks[0]!, assigned: [...input.etcd.blocks[0]!.assigned, { address: '10.65.0.7', owner: HOST }, { address: '10.65.0.8', owner: 'host2' }] };
    const findings = check({ ...input, etcd: { ...input.etcd, blocks: [block] } });
    expect(findings.map((f) => f.message)).toEqual(['orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)']);
    expect(findings[0]!.fix).toEqual({ kind: 'release-address', address: '10.65.0.7', blockKey: block.key, blockRevision: 7, endpointsRevision: 10 });
  });

  it("this host's IPIP tunnel address is in use by tunl0, not an orphan", () => {
    const input = clean();
    const block = { ...input.etcd.blocks[0]!, assigned: [...input.etcd.blocks[0]!.assigned, { address: '10.65.0.1', owner: HOST }] };
    expect(messages({ ...input, etcd: { ...input.etcd, blocks: [block], tunnelAddress: '10.65.0.1' } })).toEqual([]);
    expect(messages({ ...input, etcd: { ...input.etcd, blocks: [block] } })).toEqual(['orphaned address 10.65.0.1 in block 10.65.0.0/26 (no endpoint uses it)']);
  });

  it('an address a container still has is not an orphan; without Docker an orphan is reported but not fixed', () => {
    const input = clean();
    const withoutEndpoint = { ...input, etcd: { ...input.etcd, endpoints: [] } };
    expect(messages(withoutEndpoint)).not.toContain('orphaned address 10.65.0.2 in block 10.65.0.0/26 (no endpoint uses it)');
    expect(messages(withoutEndpoint)).toContain(`container workload-1 has no endpoint ${EP} on network ${NET}`);
    const { docker: _, ...noDocker } = withoutEndpoint;
    const orphan = check(noDocker).find((f) => f.kind === 'orphaned-address');
    expect(orphan?.message).toBe('orphaned address 10.65.0.2 in block 10.65.0.0/26 (no endpoint uses it)');
    expect(orphan?.fix).toBeUndefined();
  });

  it('an endpoint whose container is gone is found, and deleting it is guarded by its revision', () => {
    const input = clean();
    const findings = check({ ...input, docker: { ...input.docker!, containers: [] } });
    expect(findings.map((f) => f.message)).toEqual([`endpoint ${EP} has no container`]);
    expect(findings[0]!.fix).toEqual({ kind: 'delete-endpoint', key: input.etcd.endpoints[0]!.key, modRevision: 5 });
  });

  it('chains, sets, routes and veths nothing owns are found; the jumps into a chain go with it', () => {
    const input = clean();
    const kernel = input.kernel!;
    const chains = new Map(kernel.chains[4]!);
    chains.set('cali-pi-nosuch', []);
    chains.set('cali-from-gone1', []);
    chains.set('cali-FROM-ENDPOINT', [...(chains.get('cali-FROM-ENDPOINT') ?? []), '-i caligone1 -g cali-from-gone1']);
    chains.set('cali-whatever', []);
    chains.set('DOCKER', []);
    const findings = check({
      ...input,
      kernel: {
        chains: { 4: chains, 6: undefined },
        sets: [...kernel.sets, 'cali4-t-nosuch', 'cali6-x-tmp', 'docker-set'],
        routes: [...kernel.routes, { family: 4, net: '10.65.0.9/32', iface: 'caligone1' }, { family: 4, net: '10.99.0.0/16', iface: undefined }],
        links: [...kernel.links, 'caligone1'],
      },
    });
    expect(findings.map((f) => f.message)).toEqual([
      'chain cali-from-gone1 has no endpoint',
      'chain cali-pi-nosuch has no profile',
      'chain cali-whatever has no owner',
      'ipset cali4-t-nosuch has no tag',
      'ipset cali6-x-tmp has no owner',
      'route 10.65.0.9/32 dev caligone1 has no endpoint',
      'blackhole route 10.99.0.0/16 has no pool',
      'veth caligone1 has no endpoint',
    ]);
    expect(findings[0]!.fix).toEqual({ kind: 'delete-chain', family: 4, name: 'cali-from-gone1', references: ['cali-FROM-ENDPOINT -i caligone1 -g cali-from-gone1'] });
    expect(findings.every((f) => f.fix !== undefined)).toBe(true);
    // Chains before the sets they match on; endpoints first, addresses last.
    expect(fixesOf(findings).map((f) => f.fix.kind)).toEqual(['delete-chain', 'delete-chain', 'delete-chain', 'destroy-set', 'destroy-set', 'delete-route', 'delete-route', 'delete-link']);
  });

  it("a profile's chains and tag set with no local endpoint using it are leftovers", () => {
    const input = clean();
    const other = networkId('other');
    const { profileChain, tagSet } = require('../../src/agent/dataplane/contract') as typeof import('../../src/agent/dataplane/contract');
    const chains = new Map(input.kernel!.chains[4]!).set(profileChain(other, 'inbound'), []);
    const found = messages({
      ...input,
      etcd: { ...input.etcd, profiles: [...input.etcd.profiles, { id: other, tags: [other], ruleTags: [other] }] },
      kernel: { ...input.kernel!, chains: { 4: chains, 6: undefined }, sets: [...input.kernel!.sets, tagSet(4, other)] },
    });
    expect(found).toEqual([`chain ${profileChain(other, 'inbound')} is for profile ${other}, which no endpoint on this host uses`, `ipset ${tagSet(4, other)} is for tag ${other}, which no rule on this host uses`]);
  });

  it("missing routes, chains, veths, blackholes and BIRD's block route are found and have no fix", () => {
    const input = clean();
    const chains = new Map(input.kernel!.chains[4]!);
    chains.delete(`cali-to-${EP.slice(0, 11)}`);
    const second = endpoint('b'.repeat(64), ['10.65.0.3/32']);
    const findings = check({
      ...input,
      etcd: { ...input.etcd, endpoints: [...input.etcd.endpoints, second] },
      kernel: { ...input.kernel!, chains: { 4: chains, 6: undefined }, routes: [] },
      bird: { routes: { 4: new Set(), 6: undefined } },
      docker: { ...input.docker!, containers: [...input.docker!.containers, { id: 'c2', name: 'w2', networks: [{ networkId: NET, endpointId: second.endpointId, addresses: ['10.65.0.3'] }]  }] },
    });
    expect(findings.map((f) => f.message)).toEqual([
      `missing chain cali-to-${EP.slice(0, 11)} for endpoint ${EP}`,
      `missing route 10.65.0.2/32 dev ${IFACE}`,
      'missing blackhole route 10.65.0.0/16 for its pool',
      `endpoint ${second.endpointId} has no veth ${second.iface}`,
      'missing BIRD route 10.65.0.0/26 for a block this host holds',
    ]);
    expect(findings.some((f) => f.fix)).toBe(false);
  });

  it('a veth Docker still counts as a container’s is reported but not deleted', () => {
    const input = clean();
    const findings = check({ ...input, etcd: { ...input.etcd, endpoints: [] } }).filter((f) => f.kind === 'veth-without-endpoint');
    expect(findings.map((f) => [f.message, f.fix])).toEqual([[`veth ${IFACE} has no endpoint`, undefined]]);
  });

  it('affinities and blocks that disagree are found', () => {
    const input = clean();
    const found = messages({
      ...input,
      etcd: {
        ...input.etcd,
        affinities: [{ version: 4, cidr: '10.65.0.64/26' }, { version: 4, cidr: '10.65.0.128/26' }],
        blocks: [...input.etcd.blocks, { key: blockKey(4, '10.65.0.128/26'), modRevision: 3, cidr: '10.65.0.128/26', version: 4, affinity: 'host2', assigned: [] }],
      },
      bird: undefined,
    });
    expect(found).toEqual([
      'affinity of host host1 for block 10.65.0.64/26 has no block',
      'affinity of host host1 for block 10.65.0.128/26, which host host2 holds',
      'block 10.65.0.0/26 is held by host host1, which has no affinity for it',
    ]);
  });
});

describe('the comparison: outgoing NAT', () => {
  const { MASQUERADE_RULE } = require('../../src/agent/dataplane/contract') as typeof import('../../src/agent/dataplane/contract');
  /** The clean host with a nat-outgoing pool and a plain one, and the kernel as the agent leaves it. */
  function natHost(): CheckInput {
    const input = clean();
    return {
      ...input,
      etcd: { ...input.etcd, natPools: [{ cidr: '10.65.0.0/16', masquerade: true }, { cidr: '10.66.0.0/16', masquerade: false }] },
      kernel: {
        ...input.kernel!,
        nat: new Map([['POSTROUTING', ['-j cali-POSTROUTING']], ['cali-POSTROUTING', [MASQUERADE_RULE]]]),
        natSets: new Map([['felix-all-ipam-pools', ['10.66.0.0/16', '10.65.0.0/16']], ['felix-masq-ipam-pools', ['10.65.0.0/16']]]),
      },
    };
  }
  const withKernel = (input: CheckInput, kernel: Partial<NonNullable<CheckInput['kernel']>>): CheckInput => ({ ...input, kernel: { ...input.kernel!, ...kernel } });

  it('finds nothing when the rule and both sets are as the pools say (members in any order)', () => {
    expect(check(natHost())).toEqual([]);
  });

  it('a missing rule, chain or set, and a set whose members differ, are found and have no fix', () => {
    const host = natHost();
    expect(check(withKernel(host, { nat: new Map([['cali-POSTROUTING', []]]) }))).toEqual([
      { kind: 'missing-nat-rule', message: 'chain cali-POSTROUTING (nat) does not masquerade, though 10.65.0.0/16 has nat-outgoing' },
    ]);
    expect(messages(withKernel(host, { nat: new Map() }))).toEqual(['missing chain cali-POSTROUTING (nat) for outgoing NAT']);
    expect(check(withKernel(host, { natSets: new Map([['felix-all-ipam-pools', ['10.65.0.0/16']]]) }))).toEqual([
      { kind: 'ipset-members-differ', message: 'ipset felix-all-ipam-pools holds 10.65.0.0/16; the pools say 10.65.0.0/16, 10.66.0.0/16' },
      { kind: 'missing-ipset', message: 'missing ipset felix-masq-ipam-pools for outgoing NAT' },
    ]);
  });

  it('without a nat-outgoing pool: a rule that masquerades is found; the sets are leftovers, destroyed only once no rule matches them', () => {
    const host = natHost();
    const none = { ...host, etcd: { ...host.etcd, natPools: [{ cidr: '10.65.0.0/16', masquerade: false }] } };
    expect(messages(none)).toEqual([
      'chain cali-POSTROUTING (nat) masquerades, though no pool has nat-outgoing',
      'ipset felix-all-ipam-pools is for outgoing NAT, which no pool has',
      'ipset felix-masq-ipam-pools is for outgoing NAT, which no pool has',
    ]);
    expect(check(none).some((f) => f.fix)).toBe(false);
    const ruleGone = withKernel(none, { nat: new Map([['cali-POSTROUTING', []]]) });
    expect(fixesOf(check(ruleGone)).map((f) => f.fix)).toEqual([
      { kind: 'destroy-set', name: 'felix-all-ipam-pools' },
      { kind: 'destroy-set', name: 'felix-masq-ipam-pools' },
    ]);
  });

  it("a kernel whose nat table was not read is not judged", () => {
    const host = natHost();
    const { nat: _nat, ...kernel } = host.kernel!;
    expect(check({ ...host, kernel: { ...kernel, natSets: new Map() } })).toEqual([]);
  });
});

describe("the readers' parsers", () => {
  it('iptables-save: chains and their rules', () => {
    expect([...parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:cali-x - [0:0]\n-A INPUT -j cali-x\n-A cali-x -m comment --comment "a b" -j DROP\nCOMMIT\n')]).toEqual([
      ['INPUT', ['-j cali-x']],
      ['cali-x', ['-m comment --comment "a b" -j DROP']],
    ]);
  });

  it('routes: devices and blackholes, in one spelling', () => {
    expect(parseRoutes('10.65.0.3 dev caliabc scope link\nblackhole 10.65.0.0/16\n', 4)).toEqual([
      { family: 4, net: '10.65.0.3/32', iface: 'caliabc' },
      { family: 4, net: '10.65.0.0/16', iface: undefined },
    ]);
    expect(parseRoutes('fd80:0::3 dev caliabc metric 1024 pref medium\nblackhole fd80::/64 dev lo metric 1024 pref medium\n', 6)).toEqual([
      { family: 6, net: 'fd80::3/128', iface: 'caliabc' },
      { family: 6, net: 'fd80::/64', iface: undefined },
    ]);
  });

  it('ipset list: the members, in one spelling', () => {
    const { parseSetMembers } = require('../../src/cli/commands/diags/sources') as typeof import('../../src/cli/commands/diags/sources');
    expect(parseSetMembers('Name: felix-all-ipam-pools\nType: hash:net\nHeader: family inet hashsize 1024 maxelem 65536\nMembers:\n10.65.0.0/16\n10.66.0.0/16\n')).toEqual(['10.65.0.0/16', '10.66.0.0/16']);
    expect(parseSetMembers('Name: x\nMembers:\n')).toEqual([]);
  });

  it('links: only ours', () => {
    expect(parseLinks('1: lo: <LOOPBACK>\n12: caliabc@if11: <BROADCAST>\n13: docker0: <>\n14: cali-bad.name.too.long: <>\n')).toEqual(['caliabc']);
  });

  it("BIRD's routes", () => {
    expect([...parseBirdRoutes('BIRD 1.6.8 ready.\n10.65.0.0/26       blackhole [static1 12:00:00] * (200)\n10.65.1.0/26       via 10.0.0.2 on eth0 [Mesh_10_0_0_2 12:00:00] * (100/0) [i]\n                   via 10.0.0.3 on eth0\n')]).toEqual(['10.65.0.0/26', '10.65.1.0/26']);
  });
});

describe('calicoctl diags --check in-process', () => {
  /** A host whose kernel has the one endpoint's objects and an orphan chain; BIRD is not running. */
  function world(options: { orphanChain?: boolean } = {}) {
    const w = fakeWorld();
    const ran: string[] = [];
    const state = { orphan: options.orphanChain === true };
    w.runner = {
      run: async (file, args, input) => {
        ran.push(`${file} ${args.join(' ')}${input ? ` <<${input.trim()}` : ''}`);
        if (file === 'iptables-save' && args.includes('nat')) return '*nat\n:POSTROUTING ACCEPT [0:0]\n:cali-POSTROUTING - [0:0]\n-A POSTROUTING -j cali-POSTROUTING\nCOMMIT\n';
        if (file === 'iptables-save') return `*filter\n:cali-FORWARD - [0:0]\n${state.orphan ? ':cali-pi-nosuch - [0:0]\n' : ''}COMMIT\n`;
        if (file === 'ip6tables-save') throw new Error('no ip6tables');
        if (file === 'iptables-restore') {
          state.orphan = false;
          return '';
        }
        if (file === 'ipset') return '';
        if (file === 'ip' && args.includes('route')) return '';
        if (file === 'ip') return '1: lo: <LOOPBACK>\n';
        throw new Error(`${file}: unexpected`);
      },
    };
    return { w, ran };
  }

  async function seed(w: ReturnType<typeof fakeWorld>, addresses: string[]): Promise<void> {
    let block = emptyBlock('10.65.0.0/26', 4, HOST);
    for (const a of addresses) block = allocate(block, Number(a.split('.')[3]), HOST, {});
    await w.kv.commit([], [
      { type: 'put', key: blockKey(4, '10.65.0.0/26'), value: encodeBlock(block) },
      { type: 'put', key: affinityKey(HOST, 4, '10.65.0.0/26'), value: '' },
    ]);
  }

  it('a clean host: exit 0 and "No problems found.", with notes for what was skipped', async () => {
    const { w } = world();
    const result = await w.run(['diags', '--check']);
    expect(result).toEqual({ code: 0, stdout: 'No problems found.\n', stderr: 'Note: BIRD: not running (no /var/run/calico/bird.ctl); BGP checks skipped\n' });
  });

  it('findings: one per line, exit 1; -o json structured', async () => {
    const { w } = world({ orphanChain: true });
    await seed(w, ['10.65.0.7']);
    const result = await w.run(['diags', '--check']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)\nchain cali-pi-nosuch has no profile\n');
    expect(result.stderr).toContain('2 problems found.');
    const json = await w.run(['diags', '--check', '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      hostname: HOST,
      findings: [
        { kind: 'orphaned-address', message: 'orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)', fixable: true },
        { kind: 'chain-without-owner', message: 'chain cali-pi-nosuch has no profile', fixable: true },
      ],
      notes: ['BIRD: not running (no /var/run/calico/bird.ctl); BGP checks skipped'],
    });
  });

  it('--fix releases the address in etcd and deletes the chain with one restore, then checks again', async () => {
    const { w, ran } = world({ orphanChain: true });
    await seed(w, ['10.65.0.7']);
    const result = await w.run(['diags', '--check', '--fix']);
    expect(result.stdout).toBe('Fixed: chain cali-pi-nosuch has no profile\nFixed: orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)\nNo problems found.\n');
    expect(result.code).toBe(0);
    expect(ran).toContain('iptables-restore --noflush <<*filter\n:cali-pi-nosuch - [0:0]\n-X cali-pi-nosuch\nCOMMIT');
    const block = JSON.parse((await w.kv.get(blockKey(4, '10.65.0.0/26')))!.value);
    expect(block.allocations.every((a: unknown) => a === null)).toBe(true);
  });

  it('Docker unreachable: a note, and an orphaned address is not released', async () => {
    const { w } = world();
    w.docker.networks = undefined;
    await seed(w, ['10.65.0.7']);
    const result = await w.run(['diags', '--check', '--fix']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)\n');
    expect(result.stderr).toMatch(/^Note: Docker: Cannot connect to the Docker daemon .*; container checks skipped$/m);
  });

  it("a stopped container's listing still naming its old endpoint and address neither needs the endpoint nor keeps the address", async () => {
    // Seen after dockerd was killed and restarted: the container exited, the plugin released its
    // endpoint, and Docker's listing of the exited container still names both.
    const { w } = world();
    await seed(w, ['10.65.0.7']);
    w.docker.containers = [{ id: 'c1', name: 'workload-1', networks: [{ networkId: NET, endpointId: EP, addresses: ['10.65.0.7'] }], running: false }];
    const result = await w.run(['diags', '--check', '--fix']);
    expect(result.stdout).toBe('Fixed: orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)\nNo problems found.\n');
    expect(result.code).toBe(0);
  });

  it('an endpoint written after the check read them keeps its address: the release is refused', async () => {
    const { w } = world();
    await seed(w, ['10.65.0.7']);
    w.docker.containers = [{ id: 'c1', name: 'workload-1', networks: [{ networkId: NET, endpointId: EP, addresses: ['10.65.0.7'] }], running: true }];
    const realGetPrefix = w.kv.getPrefix.bind(w.kv);
    let reads = 0;
    w.kv.getPrefix = async (prefix: string) => {
      const result = await realGetPrefix(prefix);
      // The first read is the check, the second the look --fix makes again before fixing.
      if (prefix === '/calico/' && ++reads === 2) {
        // The plugin writes the endpoint for the address just after the read the fix relies on.
        const written = { hostname: HOST, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: EP, state: 'active', name: IFACE, mac: 'ee:ee:ee:ee:ee:ee', profileIds: [], ipv4Nets: ['10.65.0.7/32'], ipv6Nets: [], labels: {} };
        await w.kv.commit([], [{ type: 'put', key: endpointKey(written), value: encodeEndpoint(written) }]);
      }
      return result;
    };
    const result = await w.run(['diags', '--check', '--fix']);
    expect(result.stdout).toMatch(/^Not fixed: orphaned address 10\.65\.0\.7 in block 10\.65\.0\.0\/26 \(no endpoint uses it\): its block or the endpoints changed since the check\n/);
    // The re-check no longer sees an orphan; what it sees is the new endpoint's veth, still to come.
    expect(result.stdout.split('\n').slice(1)).toEqual([`endpoint ${EP} has no veth ${IFACE}`, '']);
    expect(JSON.parse((await w.kv.get(blockKey(4, '10.65.0.0/26')))!.value).allocations[7]).not.toBeNull();
  });

  it('--fix leaves what only one look found: the second look no longer sees it, and nothing is touched', async () => {
    const { w, ran } = world({ orphanChain: true });
    const realRun = w.runner.run;
    let saves = 0;
    // The agent deletes the chain between the two looks (an apply of its own under way).
    w.runner = { run: async (file, args, input) => (file === 'iptables-save' && args.includes('filter') && ++saves === 2 ? '*filter\n:cali-FORWARD - [0:0]\nCOMMIT\n' : realRun(file, args, input)) };
    const result = await w.run(['diags', '--check', '--fix']);
    expect(result).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
    expect(ran.filter((line) => line.startsWith('iptables-restore'))).toEqual([]);
  });

  it('a name from etcd with control characters is printed escaped', async () => {
    const { w } = world();
    const id = 'e\u001b[2J';
    await w.kv.commit([], [{ type: 'put', key: endpointKey({ hostname: HOST, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id }), value: JSON.stringify({ state: 'active', name: 'caliesc', ipv4_nets: [] }) }]);
    const result = await w.run(['diags', '--check']);
    expect(result.stdout).toBe('endpoint e\\x1b[2J has no container\nendpoint e\\x1b[2J has no veth caliesc\n');
  });

  it('--fix and -o without --check are usage errors', async () => {
    const { w } = world();
    expect(await w.run(['diags', '--fix'])).toEqual({ code: 2, stdout: '', stderr: '--fix goes with --check: calicoctl diags --check --fix\n' });
    expect((await w.run(['diags', '-o', 'json'])).code).toBe(2);
  });
});
