import type { FakeWorld } from '../fakes/cli';
import { APP_ID, DB_ID, mustRun, networkWorld, runUnchanged, seedEndpoint, words } from './helpers';

function seed(world: FakeWorld, host: string, id: string, profiles: string[], v4: string[], v6: string[] = []): void {
  seedEndpoint(world, { host, id, profiles, v4, v6 });
}

const DB1 = 'd'.repeat(63) + '1';
const DB2 = 'd'.repeat(63) + '2';
const APP1 = 'a'.repeat(63) + '1';

/** The tutorial: databases admits applications on tcp 3306; db2 is on another host. */
async function tutorial(withRule = true): Promise<FakeWorld> {
  const world = await networkWorld();
  if (withRule) await mustRun(world, ['profile', 'databases', 'rule', 'add', ...words('inbound allow tcp from tag applications to ports 3306')]);
  seed(world, 'host1', DB1, [DB_ID], ['10.65.0.1/32'], ['fd80::1/128']);
  seed(world, 'host2', DB2, [DB_ID], ['10.65.1.1/32']);
  seed(world, 'host1', APP1, [APP_ID], ['10.65.0.2/32'], ['fd80::2/128']);
  world.docker.containers = [
    { id: 'c1'.repeat(32), name: 'db1', networks: [{ networkId: DB_ID, endpointId: DB1, addresses: ['10.65.0.1'] }], running: true },
    { id: 'c3'.repeat(32), name: 'app1', networks: [{ networkId: APP_ID, endpointId: APP1, addresses: ['10.65.0.2'] }], running: true },
  ];
  return world;
}

describe('policy trace', () => {
  it('app1 to db1 on tcp 3306: allowed by the rule the tutorial added, in rule show words, exit 0', async () => {
    const world = await tutorial();
    const result = await runUnchanged(world, ['policy', 'trace', 'app1', 'db1', 'tcp', '3306']);
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        `From app1 (10.65.0.2, endpoint aaaaaaaaaaaa on host1) to db1 (10.65.0.1, endpoint dddddddddddd on host1), tcp port 3306:`,
        '  applications outbound rule 1: allow',
        '  databases inbound rule 2: allow tcp from tag applications to ports 3306',
        'Verdict: allowed',
        '',
      ].join('\n'),
    });
  });

  it('a dropped packet is an answer, not an error: exit 1, nothing on stderr', async () => {
    const world = await tutorial();
    const result = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '80']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').slice(1)).toEqual([
      '  applications outbound rule 1: allow',
      '  databases inbound: no rule matched, on to the next profile',
      '  db1 inbound: no profile allowed it, dropped',
      'Verdict: dropped',
      '',
    ]);
    expect((await world.run(['policy', 'trace', 'app1', 'db1', 'icmp'])).code).toBe(1);
  });

  it('an endpoint that is not active drops both ways, as calico-node programs nothing for it', async () => {
    const world = await tutorial();
    seedEndpoint(world, { host: 'host1', id: APP1, profiles: [APP_ID], v4: ['10.65.0.2/32'], state: 'inactive' });
    const result = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '3306']);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n').slice(1)).toEqual(['  app1 outbound: the endpoint is not active (calico-node programs nothing for it), dropped', 'Verdict: dropped', '']);
    expect((await world.run(['policy', 'trace', 'db1', 'app1', 'icmp'])).code).toBe(1);
  });

  it('before the rule, app1 cannot reach db1', async () => {
    const world = await tutorial(false);
    expect((await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '3306'])).code).toBe(1);
  });

  it('takes endpoint IDs and addresses, across hosts, and the outside world', async () => {
    const world = await tutorial();
    expect((await world.run(['policy', 'trace', DB1, DB2, 'icmp'])).code).toBe(0);
    const out = await world.run(['policy', 'trace', 'db1', '10.65.1.1', 'tcp', '5432']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`to 10.65.1.1 (endpoint dddddddddddd on host2)`);
    const outside = await world.run(['policy', 'trace', '192.0.2.99', 'db1', 'tcp', '3306']);
    expect(outside.code).toBe(1);
    expect(outside.stdout).toContain('From 192.0.2.99 (outside every endpoint)');
    expect((await world.run(['policy', 'trace', 'db1', '192.0.2.99', 'udp', '53'])).code).toBe(0);
  });

  it("a host's own address: its packets to its workloads are not policed; its workloads' DNS to it passes before their policy", async () => {
    const world = await tutorial();
    world.kv.seed('/calico/bgp/v1/host/host1/ip_addr_v4', '172.16.0.1');
    world.kv.seed('/calico/bgp/v1/host/host2/ip_addr_v4', '172.16.0.2');
    world.kv.seed('/calico/bgp/v1/host/host2/ip_addr_v6', 'not an address');
    const fromHost = await world.run(['policy', 'trace', '172.16.0.1', 'db1', 'tcp', '80']);
    expect(fromHost.stdout.split('\n').slice(1)).toEqual(['  db1: from its own host, which is not policed', 'Verdict: allowed', '']);
    expect(fromHost.code).toBe(0);
    // db1 is on host1: host2's address is as good as the outside world to it.
    expect((await world.run(['policy', 'trace', '172.16.0.2', 'db1', 'tcp', '80'])).code).toBe(1);
    const dns = await world.run(['policy', 'trace', 'db1', '172.16.0.1', 'udp', '53']);
    expect(dns.stdout.split('\n').slice(1)).toEqual(["  db1 outbound: to its own host's DHCP, DNS or neighbour discovery, accepted before any policy", 'Verdict: allowed', '']);
  });

  it('--any picks an endpoint of a network; without it a network name is a usage error', async () => {
    const world = await tutorial();
    expect((await world.run(['policy', 'trace', '--any', 'applications', 'db1', 'tcp', '3306'])).code).toBe(0);
    expect(await world.run(['policy', 'trace', 'applications', 'db1', 'tcp', '3306'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'applications is a network or profile: add --any to pick any of its endpoints.\n',
    });
  });

  it('icmp on IPv6 addresses is ICMPv6', async () => {
    const world = await tutorial();
    const out = await world.run(['policy', 'trace', 'fd80::2', 'fd80::1', 'icmp']);
    expect(out.stdout).toContain('icmpv6 type 128 code 0');
    expect(out.code).toBe(1);
  });

  it('-o json gives the steps with profile names and shown rule words', async () => {
    const world = await tutorial();
    const out = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '3306', '-o', 'json']);
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.stdout);
    expect(doc).toMatchObject({
      from: { input: 'app1', address: '10.65.0.2', endpoint: APP1, host: 'host1' },
      to: { input: 'db1', address: '10.65.0.1', endpoint: DB1, host: 'host1' },
      packet: { protocol: 'tcp', dstPort: 3306 },
      verdict: 'allow',
    });
    expect(doc.steps[1]).toEqual({
      endpoint: DB1,
      direction: 'inbound',
      profile: DB_ID,
      profileName: 'databases',
      rule: 2,
      ruleText: 'allow tcp from tag applications to ports 3306',
      verdict: 'allow',
    });
    const yaml = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '80', '-o', 'yaml']);
    expect(yaml.code).toBe(1);
    expect(yaml.stdout).toContain('verdict: deny');
  });

  it.each([
    [['app1', 'db1', 'tcp'], "Give one port after tcp, e.g. 'tcp 3306'."],
    [['app1', 'db1', 'tcp', '70000'], "Invalid port '70000': give a number from 0 to 65535."],
    [['app1', 'db1', 'sctp', '1'], "Unknown protocol 'sctp': give tcp, udp or icmp."],
    [['app1', 'db1', 'icmp', 'type'], "After icmp give 'type <N>' and optionally 'code <N>'."],
    [['app1', 'db1', 'icmp', 'type', '8', 'code', '256'], "Invalid ICMP code '256': give a number from 0 to 255."],
  ])('bad packet words %j: exit 2', async (argv, message) => {
    const world = await tutorial();
    expect(await runUnchanged(world, ['policy', 'trace', ...argv])).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
  });

  it('an unknown word: exit 1, one line', async () => {
    const world = await tutorial();
    expect(await runUnchanged(world, ['policy', 'trace', 'nobody', 'db1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'nobody is no IP address, endpoint, container or network known to Calico.\n',
    });
  });

  it('finds the endpoint at an address however its value spells it (leading zeros, no prefix, JSON escapes)', async () => {
    for (const [spelling, raw] of [['010.065.000.002/032', false], ['10.65.0.2', false], ['\\u0031\\u0030.65.0.2/32', true]] as const) {
      const world = await tutorial();
      const key = `/calico/v1/host/host1/workload/libnetwork/libnetwork/endpoint/${APP1}`;
      const value = `{"state":"active","name":"cali${APP1.slice(0, 11)}","mac":"EE:EE:EE:EE:EE:EE","profile_ids":["${APP_ID}"],"ipv4_nets":["${spelling}"],"ipv6_nets":[],"labels":{}}`;
      world.kv.seed(key, raw ? value : JSON.parse(value));
      const result = await world.run(['policy', 'trace', '10.65.0.2', '10.65.0.1', 'tcp', '3306']);
      expect({ spelling, code: result.code, first: result.stdout.split('\n')[0] }).toEqual({
        spelling,
        code: 0,
        first: 'From 10.65.0.2 (endpoint aaaaaaaaaaaa on host1) to 10.65.0.1 (endpoint dddddddddddd on host1), tcp port 3306:',
      });
    }
  });

  it('reads only the profiles of the two ends: another profile\'s bad value is not its business', async () => {
    const world = await tutorial();
    world.kv.seed('/calico/v1/policy/profile/elsewhere/tags', '{not json');
    const result = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '3306']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    // One of the ends' own profiles is reported, and its verdict follows the agent's (tags unreadable: none).
    world.kv.seed('/calico/v1/policy/profile/' + APP_ID + '/tags', '{not json');
    const broken = await world.run(['policy', 'trace', 'app1', 'db1', 'tcp', '3306']);
    expect(broken.stderr).toBe(`Warning: The data stored at /calico/v1/policy/profile/${APP_ID}/tags is invalid: not valid JSON; skipped.\n`);
    expect(broken.code).toBe(1);
  });
});

describe('policy matrix', () => {
  it('networks: databases reach databases, applications reach databases only on tcp 3306', async () => {
    const world = await tutorial();
    const any = await runUnchanged(world, ['policy', 'matrix']);
    expect(any.code).toBe(0);
    expect(any.stdout).toBe(
      [
        'any protocol, rows from, columns to:',
        '+--------------+--------------+-----------+',
        '|  from \\ to   | applications | databases |',
        '+--------------+--------------+-----------+',
        '| applications |      -       |    drop   |',
        '|  databases   |     drop     |   allow   |',
        '+--------------+--------------+-----------+',
        '',
      ].join('\n'),
    );
    const tcp = await world.run(['policy', 'matrix', 'tcp', '3306', '-o', 'json']);
    const cells = JSON.parse(tcp.stdout).cells;
    expect(cells).toContainEqual({ from: 'applications', to: 'databases', allowed: 2, pairs: 2, verdict: 'allow' });
  });

  it('--containers, limited by --network (repeatable)', async () => {
    const world = await tutorial();
    const out = await world.run(['policy', 'matrix', '--containers', '--network', 'databases', '--network', 'applications', 'tcp', '3306', '-o', 'json']);
    expect(out.code).toBe(0);
    const cells = JSON.parse(out.stdout).cells as { from: string; to: string; verdict: string | null }[];
    const verdict = (from: string, to: string) => cells.find((c) => c.from === from && c.to === to)?.verdict;
    expect(verdict('app1', 'db1')).toBe('allow');
    expect(verdict('db1', 'app1')).toBe('drop');
    expect(verdict('db1', 'db1')).toBeNull();
    expect(verdict('db1', DB2.slice(0, 12))).toBe('allow');
  });
});

describe('--dry-run impact previews', () => {
  it('rule add: the existing dry-run output, then the pairs it would newly allow for the ports the rule names', async () => {
    const world = await tutorial(false);
    const result = await runUnchanged(world, ['profile', 'databases', 'rule', 'add', ...words('inbound allow tcp from tag applications to ports 3306'), '--dry-run']);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^Would set \/calico\/v1\/policy\/profile\/.*\/rules to /);
    expect(lines.slice(1)).toEqual([
      'Impact on connections between endpoints (probed: tcp 3306):',
      `  newly allowed: app1 -> db1 (tcp 3306)`,
      `  newly allowed: app1 -> ${DB2.slice(0, 12)} (tcp 3306)`,
      '',
    ]);
    expect(result.stderr).toBe('Dry run: nothing was changed.\n');
  });

  it('rule remove: the pairs it would newly drop; a rule that changes nothing says none', async () => {
    const world = await tutorial();
    const removed = await runUnchanged(world, ['profile', 'databases', 'rule', 'remove', 'inbound', '--at', '1', '--dry-run']);
    expect(removed.stdout).toContain('Impact on connections between endpoints (probed: any protocol):\n');
    expect(removed.stdout).toContain(`  newly dropped: db1 -> ${DB2.slice(0, 12)} (any protocol)\n`);
    expect(removed.stdout).toContain(`  newly dropped: ${DB2.slice(0, 12)} -> db1 (any protocol)\n`);
    const same = await runUnchanged(world, ['profile', 'databases', 'rule', 'add', ...words('inbound allow udp from tag databases to ports 53'), '--dry-run']);
    expect(same.stdout).toContain('Impact on connections between endpoints (probed: udp 53): none.\n');
  });

  it('tag add: the members newly admitted by the rules that name the tag', async () => {
    const world = await tutorial();
    const result = await runUnchanged(world, ['profile', 'applications', 'tag', 'add', 'databases', '--dry-run']);
    expect(result.stdout).toContain('  newly allowed: app1 -> db1 (any protocol)\n');
    expect(result.stdout).not.toContain('newly dropped');
  });

  it('endpoint profile set: the pairs that change when an endpoint changes network', async () => {
    const world = await tutorial();
    const result = await runUnchanged(world, ['endpoint', APP1, 'profile', 'set', DB_ID, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Profile(s) set to ${DB_ID}.\n`);
    expect(result.stdout).toContain('  newly allowed: db1 -> app1 (any protocol)\n');
  });

  it('without --dry-run nothing extra is printed', async () => {
    const world = await tutorial(false);
    expect(await world.run(['profile', 'databases', 'rule', 'add', ...words('inbound allow tcp from tag applications to ports 3306')])).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
