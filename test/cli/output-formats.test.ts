import { type FakeWorld, fakeWorld } from '../fakes/cli';
import { APP_ID, DB_ID, mustRun, networkWorld, ok, rulesKey, runUnchanged, seedEndpoint, words } from './helpers';

/**
 * Golden outputs of every `show` command in each -o format. Without -o a command prints the
 * original's table or text (covered by the other files); here: -o table is that same output, wide
 * adds columns, and json/yaml are the documented shapes: 2-space indent, keys in a fixed order,
 * no trailing spaces, never decorated, also on a terminal.
 */

const EP1 = 'ep1aaaaaaaaaaaaaaaa';
const EP2 = 'ep2bbbbbbbbbbbbbbbb';

/**
 * The tutorial's networks (databases, applications) plus a plain profile `web` with an extra tag,
 * one rule naming another network, two endpoints on two hosts, two pools and two registered hosts.
 */
async function seeded(): Promise<FakeWorld> {
  const world = await networkWorld();
  await mustRun(world, ['profile', 'add', 'web']);
  await mustRun(world, ['profile', 'web', 'tag', 'add', 'frontend']);
  await mustRun(world, words('profile databases rule add inbound allow tcp from tag applications to ports 3306'));
  await mustRun(world, ['pool', 'add', '10.65.0.0/16', '--ipip']);
  await mustRun(world, ['pool', 'add', 'fd65::/64', '--nat-outgoing']);
  seedEndpoint(world, { host: 'host1', id: EP1, profiles: [DB_ID] });
  seedEndpoint(world, { host: 'host2', id: EP2, profiles: [APP_ID, 'web'], state: 'inactive' });
  world.kv.seed('/calico/v1/host/host1/bird_ip', '192.0.2.10');
  world.kv.seed('/calico/v1/host/host2/bird_ip', '192.0.2.20');
  world.kv.seed('/calico/bgp/v1/host/host2/ip_addr_v6', 'fd00::20');
  return world;
}

/** JSON exactly as documented: `value` (written with keys in the documented order), 2-space indent, one final newline. */
const jsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Runs a read-only command: it must succeed, write nothing to stderr, and leave etcd alone. */
async function show(world: FakeWorld, argv: string[], options: { tty?: boolean } = {}): Promise<string> {
  const before = world.kv.dump();
  const commits = world.kv.commits;
  const result = await world.run(argv, options);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(world.kv.dump()).toEqual(before);
  expect(world.kv.commits).toBe(commits);
  return result.stdout;
}

const stripColour = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

/** The properties every machine-readable document has. */
function expectClean(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  expect(text.endsWith('\n\n')).toBe(false);
  for (const line of text.split('\n')) expect(line).not.toMatch(/[ \t]$/);
  expect(text).not.toContain('\x1b');
  expect(text).not.toContain('\t');
}

const PROFILE_DOCS = [
  {
    name: APP_ID,
    network: 'applications',
    tags: [APP_ID],
    rules: { inbound_rules: [{ action: 'allow', src_tag: APP_ID }], outbound_rules: [{ action: 'allow' }] },
    labels: {},
  },
  {
    name: DB_ID,
    network: 'databases',
    tags: [DB_ID],
    rules: {
      inbound_rules: [
        { action: 'allow', src_tag: DB_ID },
        { action: 'allow', protocol: 'tcp', src_tag: APP_ID, dst_ports: [3306] },
      ],
      outbound_rules: [{ action: 'allow' }],
    },
    labels: {},
  },
  {
    name: 'web',
    network: null,
    tags: ['web', 'frontend'],
    rules: { inbound_rules: [{ action: 'allow', src_tag: 'web' }], outbound_rules: [{ action: 'allow' }] },
    labels: {},
  },
];

const EP_DOCS = [
  {
    hostname: 'host1',
    orchestrator: 'libnetwork',
    workload: 'libnetwork',
    endpoint: EP1,
    state: 'active',
    name: 'caliep1aaaaaaaa',
    mac: 'EE:EE:EE:EE:EE:EE',
    profile_ids: [DB_ID],
    ipv4_nets: ['192.168.0.1/32'],
    ipv6_nets: [],
    labels: {},
  },
  {
    hostname: 'host2',
    orchestrator: 'libnetwork',
    workload: 'libnetwork',
    endpoint: EP2,
    state: 'inactive',
    name: 'caliep2bbbbbbbb',
    mac: 'EE:EE:EE:EE:EE:EE',
    profile_ids: [APP_ID, 'web'],
    ipv4_nets: ['192.168.0.1/32'],
    ipv6_nets: [],
    labels: {},
  },
];

describe('profile show', () => {
  it('-o table is exactly the output without -o (with and without --detailed)', async () => {
    const world = await seeded();
    const plain = await show(world, ['profile', 'show']);
    expect(plain).toBe(
      '+------------------------------------------------------------------+\n' +
        '|                               Name                               |\n' +
        '+------------------------------------------------------------------+\n' +
        `| ${APP_ID} |\n` +
        `| ${DB_ID} |\n` +
        '|                               web                                |\n' +
        '+------------------------------------------------------------------+\n',
    );
    expect(await show(world, ['profile', 'show', '-o', 'table'])).toBe(plain);
    expect(await show(world, ['profile', 'show', '--output=table'])).toBe(plain);
    const detailed = await show(world, ['profile', 'show', '--detailed']);
    expect(detailed).toContain(`| ${DB_ID} | host1 |    libnetwork   |  libnetwork | ${EP1} |  active  |\n`);
    expect(await show(world, ['profile', 'show', '--detailed', '-o', 'table'])).toBe(detailed);
  });

  it('-o wide adds the network name, the tags (network names for network IDs), rule counts and endpoint counts', async () => {
    const world = await seeded();
    const wide = await show(world, ['profile', 'show', '-o', 'wide']);
    expect(wide).toBe(
      [
        '+------------------------------------------------------------------+--------------+--------------+---------------+----------------+-----------+',
        '|                               Name                               |   Network    |     Tags     | Inbound rules | Outbound rules | Endpoints |',
        '+------------------------------------------------------------------+--------------+--------------+---------------+----------------+-----------+',
        `| ${APP_ID} | applications | applications |       1       |       1        |     1     |`,
        `| ${DB_ID} |  databases   |  databases   |       2       |       1        |     1     |`,
        '|                               web                                |              | web,frontend |       1       |       1        |     1     |',
        '+------------------------------------------------------------------+--------------+--------------+---------------+----------------+-----------+',
        '',
      ].join('\n'),
    );
    // The wide table already counts the endpoints: --detailed changes nothing there.
    expect(await show(world, ['profile', 'show', '-o', 'wide', '--detailed'])).toBe(wide);
  });

  it('-o json: a list sorted by name of {name, network, tags, rules, labels}, as stored', async () => {
    const world = await seeded();
    const out = await show(world, ['profile', 'show', '-o', 'json']);
    expect(out).toBe(jsonText(PROFILE_DOCS));
    expectClean(out);
    // The first lines, spelled out: 2-space indent, name first.
    expect(out.split('\n').slice(0, 4)).toEqual(['[', '  {', `    "name": "${APP_ID}",`, '    "network": "applications",']);
  });

  it('-o json --detailed adds each profile\'s endpoints', async () => {
    const world = await seeded();
    const endpoint = (e: (typeof EP_DOCS)[number]) => ({ hostname: e.hostname, orchestrator: e.orchestrator, workload: e.workload, endpoint: e.endpoint, state: e.state });
    const [app, db, web] = PROFILE_DOCS;
    const [ep1, ep2] = EP_DOCS as [(typeof EP_DOCS)[number], (typeof EP_DOCS)[number]];
    const out = await show(world, ['profile', 'show', '-o', 'json', '--detailed']);
    expect(out).toBe(
      jsonText([
        { ...app, endpoints: [endpoint(ep2)] },
        { ...db, endpoints: [endpoint(ep1)] },
        { ...web, endpoints: [endpoint(ep2)] },
      ]),
    );
    expectClean(out);
  });

  it('-o yaml: the same documents as YAML', async () => {
    const world = await seeded();
    const out = await show(world, ['profile', 'show', '-o', 'yaml']);
    expect(out).toBe(
      [
        `- name: ${APP_ID}`,
        '  network: applications',
        '  tags:',
        `    - ${APP_ID}`,
        '  rules:',
        '    inbound_rules:',
        '      - action: allow',
        `        src_tag: ${APP_ID}`,
        '    outbound_rules:',
        '      - action: allow',
        '  labels: {}',
        `- name: ${DB_ID}`,
        '  network: databases',
        '  tags:',
        `    - ${DB_ID}`,
        '  rules:',
        '    inbound_rules:',
        '      - action: allow',
        `        src_tag: ${DB_ID}`,
        '      - action: allow',
        '        protocol: tcp',
        `        src_tag: ${APP_ID}`,
        '        dst_ports:',
        '          - 3306',
        '    outbound_rules:',
        '      - action: allow',
        '  labels: {}',
        '- name: web',
        '  network: null',
        '  tags:',
        '    - web',
        '    - frontend',
        '  rules:',
        '    inbound_rules:',
        '      - action: allow',
        '        src_tag: web',
        '    outbound_rules:',
        '      - action: allow',
        '  labels: {}',
        '',
      ].join('\n'),
    );
    expectClean(out);
  });

  it('-o yaml --detailed lists the endpoints under each profile', async () => {
    const world = await seeded();
    const out = await show(world, ['profile', 'show', '-o', 'yaml', '--detailed']);
    expect(out).toContain(
      ['  labels: {}', '  endpoints:', '    - hostname: host1', '      orchestrator: libnetwork', '      workload: libnetwork', `      endpoint: ${EP1}`, '      state: active', '- name: web'].join('\n'),
    );
    expectClean(out);
  });

  it('-q prints only the names, sorted, one per line, whatever -o says', async () => {
    const world = await seeded();
    const names = `${APP_ID}\n${DB_ID}\nweb\n`;
    expect(await show(world, ['profile', 'show', '-q'])).toBe(names);
    expect(await show(world, ['profile', 'show', '--quiet'])).toBe(names);
    expect(await show(world, ['profile', 'show', '-q', '--detailed'])).toBe(names);
    expect(await show(world, ['profile', 'show', '-q', '-o', 'json'])).toBe(names);
  });

  it('with no profiles: an empty table, an empty list, and nothing for -q', async () => {
    const world = fakeWorld();
    expect(await show(world, ['profile', 'show', '-o', 'json'])).toBe('[]\n');
    expect(await show(world, ['profile', 'show', '-o', 'yaml'])).toBe('[]\n');
    expect(await show(world, ['profile', 'show', '-q'])).toBe('');
    expect(await show(world, ['profile', 'show', '-o', 'table'])).toBe(await show(world, ['profile', 'show']));
  });

  it('without Docker, json still prints (network null) and the warning goes to stderr', async () => {
    const world = await seeded();
    world.docker.networks = undefined;
    const result = await world.run(['profile', 'show', '-o', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).map((p: { network: unknown }) => p.network)).toEqual([null, null, null]);
    expect(result.stderr).toMatch(/^Warning: network names are not shown: Cannot connect to the Docker daemon/);
  });
});

describe('rule show', () => {
  it('-o json is the rule json document (network names for network IDs)', async () => {
    const world = await seeded();
    const out = await show(world, ['profile', 'databases', 'rule', 'show', '-o', 'json']);
    expect(out).toBe(
      '{\n' +
        '  "inbound_rules": [\n' +
        '    {\n' +
        '      "action": "allow",\n' +
        '      "src_tag": "databases"\n' +
        '    },\n' +
        '    {\n' +
        '      "action": "allow",\n' +
        '      "protocol": "tcp",\n' +
        '      "src_tag": "applications",\n' +
        '      "dst_ports": [\n' +
        '        3306\n' +
        '      ]\n' +
        '    }\n' +
        '  ],\n' +
        '  "outbound_rules": [\n' +
        '    {\n' +
        '      "action": "allow"\n' +
        '    }\n' +
        '  ]\n' +
        '}\n',
    );
    expect(out).toBe(await show(world, ['profile', 'databases', 'rule', 'json']));
    expectClean(out);
  });

  it('-o yaml is the same document as YAML', async () => {
    const world = await seeded();
    const out = await show(world, ['profile', 'databases', 'rule', 'show', '-o', 'yaml']);
    expect(out).toBe(
      [
        'inbound_rules:',
        '  - action: allow',
        '    src_tag: databases',
        '  - action: allow',
        '    protocol: tcp',
        '    src_tag: applications',
        '    dst_ports:',
        '      - 3306',
        'outbound_rules:',
        '  - action: allow',
        '',
      ].join('\n'),
    );
    expectClean(out);
  });

  it('-o table is the rule show text', async () => {
    const world = await seeded();
    const text = 'Inbound rules:\n   1 allow from tag databases\n   2 allow tcp from tag applications to ports 3306\nOutbound rules:\n   1 allow\n';
    expect(await show(world, ['profile', 'databases', 'rule', 'show'])).toBe(text);
    expect(await show(world, ['profile', 'databases', 'rule', 'show', '-o', 'table'])).toBe(text);
  });

  it.each(['yaml', 'json'])('-o %s fed to rule update leaves the stored rules as they were', async (format) => {
    const world = await seeded();
    for (const rule of [
      'inbound deny icmp type 8 code 0 from cidr 10.0.0.0/8 to tag databases',
      'inbound allow udp from ports 53,1000:2000 tag applications cidr 192.168.0.0/16 to ports 0,65535',
      'outbound deny icmpv6 type 1 code 4 to cidr fd00::/64',
      'outbound allow tcp to ports 443 tag applications',
    ]) {
      await mustRun(world, ['profile', 'databases', 'rule', 'add', ...words(rule)]);
    }
    const stored = world.kv.dump()[rulesKey(DB_ID)];
    const before = world.kv.dump();
    const document = await show(world, ['profile', 'databases', 'rule', 'show', '-o', format]);
    expect(await world.run(['profile', 'databases', 'rule', 'update'], { stdin: document })).toEqual(ok('Successfully updated rules on profile databases\n'));
    expect(world.kv.dump()[rulesKey(DB_ID)]).toEqual(stored);
    expect(world.kv.dump()).toEqual(before);
    // And the text is unchanged too: a second round trip prints the same document.
    expect(await show(world, ['profile', 'databases', 'rule', 'show', '-o', format])).toBe(document);
  });

  it('a plain profile round-trips too, with any tags', async () => {
    const world = await seeded();
    await mustRun(world, words('profile web rule add inbound allow udp from ports 53,1000:2000 tag frontend cidr 192.168.0.0/16 to ports 0,65535'));
    await mustRun(world, words('profile web rule add outbound deny icmp type 3 to tag backend'));
    const before = world.kv.dump();
    for (const format of ['yaml', 'json']) {
      const document = await show(world, ['profile', 'web', 'rule', 'show', '-o', format]);
      expect(await world.run(['profile', 'web', 'rule', 'update'], { stdin: document })).toEqual(ok('Successfully updated rules on profile web\n'));
      expect(world.kv.dump()).toEqual(before);
    }
  });

  it('an edited YAML document is applied (network names become network IDs)', async () => {
    const world = await seeded();
    const document = (await show(world, ['profile', 'databases', 'rule', 'show', '-o', 'yaml'])).replace('    dst_ports:\n      - 3306\n', '    dst_ports:\n      - 5432\n');
    expect(await world.run(['profile', 'databases', 'rule', 'update'], { stdin: document })).toEqual(ok('Successfully updated rules on profile databases\n'));
    expect(world.kv.dump()[rulesKey(DB_ID)]).toEqual({
      inbound_rules: [
        { action: 'allow', src_tag: DB_ID },
        { action: 'allow', protocol: 'tcp', src_tag: APP_ID, dst_ports: [5432] },
      ],
      outbound_rules: [{ action: 'allow' }],
    });
  });
});

describe('tag show', () => {
  it('-o json and -o yaml list the tags (network names for network IDs)', async () => {
    const world = await seeded();
    await mustRun(world, ['profile', 'web', 'tag', 'add', 'databases']);
    expect(await show(world, ['profile', 'web', 'tag', 'show', '-o', 'json'])).toBe('[\n  "web",\n  "frontend",\n  "databases"\n]\n');
    expect(await show(world, ['profile', 'web', 'tag', 'show', '-o', 'yaml'])).toBe('- web\n- frontend\n- databases\n');
    expect(await show(world, ['profile', 'databases', 'tag', 'show', '-o', 'json'])).toBe('[\n  "databases"\n]\n');
    expect(await show(world, ['profile', 'web', 'tag', 'show'])).toBe('web\nfrontend\ndatabases\n');
    expect(await show(world, ['profile', 'web', 'tag', 'show', '-o', 'table'])).toBe('web\nfrontend\ndatabases\n');
  });
});

describe('endpoint show', () => {
  const WIDE = [
    '+----------+-----------------+-------------+---------------------+----------------+-------------------+----------------------------------------------------------------------+----------+',
    '| Hostname | Orchestrator ID | Workload ID |     Endpoint ID     |   Addresses    |        MAC        |                               Profiles                               |  State   |',
    '+----------+-----------------+-------------+---------------------+----------------+-------------------+----------------------------------------------------------------------+----------+',
    `|  host1   |    libnetwork   |  libnetwork | ${EP1} | 192.168.0.1/32 | EE:EE:EE:EE:EE:EE |   ${DB_ID}   |  active  |`,
    `|  host2   |    libnetwork   |  libnetwork | ${EP2} | 192.168.0.1/32 | EE:EE:EE:EE:EE:EE | ${APP_ID},web | inactive |`,
    '+----------+-----------------+-------------+---------------------+----------------+-------------------+----------------------------------------------------------------------+----------+',
    '',
    '',
  ].join('\n');

  it('-o json: one document per endpoint, sorted by host and endpoint ID', async () => {
    const world = await seeded();
    const out = await show(world, ['endpoint', 'show', '-o', 'json']);
    expect(out).toBe(jsonText(EP_DOCS));
    expectClean(out);
    expect(await show(world, ['endpoint', 'show', '-o', 'json', '--host', 'host2'])).toBe(jsonText([EP_DOCS[1]]));
    expect(await show(world, ['endpoint', 'show', '-o', 'json', '--endpoint', 'nope'])).toBe('[]\n');
  });

  it('-o yaml', async () => {
    const world = await seeded();
    const out = await show(world, ['endpoint', 'show', '-o', 'yaml']);
    expect(out).toBe(
      [
        '- hostname: host1',
        '  orchestrator: libnetwork',
        '  workload: libnetwork',
        `  endpoint: ${EP1}`,
        '  state: active',
        '  name: caliep1aaaaaaaa',
        '  mac: EE:EE:EE:EE:EE:EE',
        '  profile_ids:',
        `    - ${DB_ID}`,
        '  ipv4_nets:',
        '    - 192.168.0.1/32',
        '  ipv6_nets: []',
        '  labels: {}',
        '- hostname: host2',
        '  orchestrator: libnetwork',
        '  workload: libnetwork',
        `  endpoint: ${EP2}`,
        '  state: inactive',
        '  name: caliep2bbbbbbbb',
        '  mac: EE:EE:EE:EE:EE:EE',
        '  profile_ids:',
        `    - ${APP_ID}`,
        '    - web',
        '  ipv4_nets:',
        '    - 192.168.0.1/32',
        '  ipv6_nets: []',
        '  labels: {}',
        '',
      ].join('\n'),
    );
    expectClean(out);
  });

  it('-o wide is the --detailed table (with its trailing blank line, as the original)', async () => {
    const world = await seeded();
    expect(await show(world, ['endpoint', 'show', '-o', 'wide'])).toBe(WIDE);
    expect(await show(world, ['endpoint', 'show', '--detailed'])).toBe(WIDE);
  });

  it('-o table is the summary without -o', async () => {
    const world = await seeded();
    const summary = [
      '+----------+-----------------+---------------------+---------------------+',
      '| Hostname | Orchestrator ID | Number of Workloads | Number of Endpoints |',
      '+----------+-----------------+---------------------+---------------------+',
      '|  host1   |    libnetwork   |          1          |          1          |',
      '|  host2   |    libnetwork   |          1          |          1          |',
      '+----------+-----------------+---------------------+---------------------+',
      '',
      '',
    ].join('\n');
    expect(await show(world, ['endpoint', 'show'])).toBe(summary);
    expect(await show(world, ['endpoint', 'show', '-o', 'table'])).toBe(summary);
  });

  it('-q prints the endpoint IDs, sorted, one per line (filters apply)', async () => {
    const world = await seeded();
    expect(await show(world, ['endpoint', 'show', '-q'])).toBe(`${EP1}\n${EP2}\n`);
    expect(await show(world, ['endpoint', 'show', '-q', '--host', 'host1'])).toBe(`${EP1}\n`);
    expect(await show(world, ['endpoint', 'show', '--quiet', '-o', 'json'])).toBe(`${EP1}\n${EP2}\n`);
  });
});

describe('pool show', () => {
  it('-o json and -o yaml: {cidr, version, ipip, nat_outgoing, disabled, ipam}, sorted by CIDR', async () => {
    const world = await seeded();
    const docs = [
      { cidr: '10.65.0.0/16', version: 4, ipip: true, nat_outgoing: false, disabled: false, ipam: true },
      { cidr: 'fd65::/64', version: 6, ipip: false, nat_outgoing: true, disabled: false, ipam: true },
    ];
    const json = await show(world, ['pool', 'show', '-o', 'json']);
    expect(json).toBe(jsonText(docs));
    expectClean(json);
    expect(await show(world, ['pool', 'show', '-o', 'json', '--ipv6'])).toBe(jsonText([docs[1]]));
    const yaml = await show(world, ['pool', 'show', '-o', 'yaml']);
    expect(yaml).toBe(
      [
        '- cidr: 10.65.0.0/16',
        '  version: 4',
        '  ipip: true',
        '  nat_outgoing: false',
        '  disabled: false',
        '  ipam: true',
        '- cidr: fd65::/64',
        '  version: 6',
        '  ipip: false',
        '  nat_outgoing: true',
        '  disabled: false',
        '  ipam: true',
        '',
      ].join('\n'),
    );
    expectClean(yaml);
  });

  it('-o table (and wide) is the two tables without -o', async () => {
    const world = await seeded();
    const tables = [
      '+--------------+---------+',
      '|  IPv4 CIDR   | Options |',
      '+--------------+---------+',
      '| 10.65.0.0/16 |   ipip  |',
      '+--------------+---------+',
      '+-----------+--------------+',
      '| IPv6 CIDR |   Options    |',
      '+-----------+--------------+',
      '| fd65::/64 | nat-outgoing |',
      '+-----------+--------------+',
      '',
    ].join('\n');
    expect(await show(world, ['pool', 'show'])).toBe(tables);
    expect(await show(world, ['pool', 'show', '-o', 'table'])).toBe(tables);
    expect(await show(world, ['pool', 'show', '-o', 'wide'])).toBe(tables);
  });
});

describe('node show', () => {
  const withBgp = async () => {
    const world = await seeded();
    world.kv.seed('/calico/bgp/v1/host/host2/as_num', '65002');
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.99', 'as', '65100']);
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.9', 'as', '1.5']);
    await mustRun(world, ['node', 'bgp', 'peer', 'add', 'fd00::99', 'as', '65100']);
    return world;
  };

  it('-o json and -o yaml: {hostname, ipv4, ipv6, as_num, as_inherited, peers_v4, peers_v6, endpoints}, sorted by hostname', async () => {
    const world = await withBgp();
    const docs = [
      {
        hostname: 'host1',
        ipv4: '192.0.2.10',
        ipv6: '',
        as_num: '64511',
        as_inherited: true,
        peers_v4: [{ ip: '192.0.2.9', as_num: '65541' }, { ip: '192.0.2.99', as_num: '65100' }],
        peers_v6: [{ ip: 'fd00::99', as_num: '65100' }],
        endpoints: 1,
      },
      { hostname: 'host2', ipv4: '192.0.2.20', ipv6: 'fd00::20', as_num: '65002', as_inherited: false, peers_v4: [], peers_v6: [], endpoints: 1 },
    ];
    const json = await show(world, ['node', 'show', '-o', 'json']);
    expect(json).toBe(jsonText(docs));
    expectClean(json);
    const yaml = await show(world, ['node', 'show', '-o', 'yaml']);
    expect(yaml).toBe(
      [
        '- hostname: host1',
        '  ipv4: 192.0.2.10',
        '  ipv6: ""',
        '  as_num: "64511"',
        '  as_inherited: true',
        '  peers_v4:',
        '    - ip: 192.0.2.9',
        '      as_num: "65541"',
        '    - ip: 192.0.2.99',
        '      as_num: "65100"',
        '  peers_v6:',
        '    - ip: fd00::99',
        '      as_num: "65100"',
        '  endpoints: 1',
        '- hostname: host2',
        '  ipv4: 192.0.2.20',
        '  ipv6: fd00::20',
        '  as_num: "65002"',
        '  as_inherited: false',
        '  peers_v4: []',
        '  peers_v6: []',
        '  endpoints: 1',
        '',
      ].join('\n'),
    );
    expectClean(yaml);
  });

  it("-o table is v0.23's table: the host's own AS or the default (inherited), its peers one per line; -o wide adds the endpoints", async () => {
    const world = await withBgp();
    const table = [
      '+----------+------------+-----------+-------------------+---------------------+-------------------+',
      '| Hostname | Bird IPv4  | Bird IPv6 |       AS Num      |     BGP Peers v4    |    BGP Peers v6   |',
      '+----------+------------+-----------+-------------------+---------------------+-------------------+',
      '|  host1   | 192.0.2.10 |           | 64511 (inherited) |  192.0.2.9 as 65541 | fd00::99 as 65100 |',
      '|          |            |           |                   | 192.0.2.99 as 65100 |                   |',
      '|  host2   | 192.0.2.20 |  fd00::20 |       65002       |                     |                   |',
      '+----------+------------+-----------+-------------------+---------------------+-------------------+',
      '',
      '',
    ].join('\n');
    expect(await show(world, ['node', 'show'])).toBe(table);
    expect(await show(world, ['node', 'show', '-o', 'table'])).toBe(table);
    const wide = await show(world, ['node', 'show', '-o', 'wide']);
    expect(wide.split('\n')[1]).toBe('| Hostname | Bird IPv4  | Bird IPv6 |       AS Num      |     BGP Peers v4    |    BGP Peers v6   | Endpoints |');
  });
});

describe('status', () => {
  const NOT_RUNNING = 'calico-node is not running: start it with calicoctl node.\n';

  it('-o json prints the whole document even though the agent is not running (exit 1)', async () => {
    const world = await seeded();
    const result = await runUnchanged(world, ['status', '-o', 'json']);
    expect(result).toEqual({
      code: 1,
      stdout: jsonText({
        agent: { running: false },
        etcd: { reachable: true, endpoints: ['http://127.0.0.1:2379'], version: '3.4.0-memory' },
        host: { name: 'host1', endpoints: 1, profiles: 3 },
        dataplane: {},
        bgp: {
          backend: 'bird',
          ipv4: { ip: '192.0.2.10', asNum: '64511', asInherited: true, bird: 'BIRD is not running (no /var/run/calico/bird.ctl).' },
          ipv6: {},
        },
      }),
      stderr: NOT_RUNNING,
    });
    expectClean(result.stdout);
  });

  it('-o yaml, and the last dataplane apply from the status file', async () => {
    const world = await seeded();
    world.host = {
      ...world.host,
      readFile: (path) => (path.endsWith('/calico-node.json') ? JSON.stringify({ lastApply: { at: '2024-01-02T03:04:05.000Z', ok: true, durationMs: 12 } }) : undefined),
    };
    const result = await world.run(['status', '-o', 'yaml']);
    expect(result).toEqual({
      code: 1,
      stdout: [
        'agent:',
        '  running: false',
        'etcd:',
        '  reachable: true',
        '  endpoints:',
        '    - http://127.0.0.1:2379',
        '  version: 3.4.0-memory',
        'host:',
        '  name: host1',
        '  endpoints: 1',
        '  profiles: 3',
        'dataplane:',
        '  lastApply:',
        '    at: 2024-01-02T03:04:05.000Z',
        '    ok: true',
        '    durationMs: 12',
        'bgp:',
        '  backend: bird',
        '  ipv4:',
        '    ip: 192.0.2.10',
        '    asNum: "64511"',
        '    asInherited: true',
        '    bird: BIRD is not running (no /var/run/calico/bird.ctl).',
        '  ipv6: {}',
        '',
      ].join('\n'),
      stderr: NOT_RUNNING,
    });
  });

  it('-o json with etcd unreachable still prints the document', async () => {
    const world = await seeded();
    world.kv.failWith = new Error('connect ECONNREFUSED 127.0.0.1:2379');
    const result = await world.run(['status', '-o', 'json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      agent: { running: false },
      etcd: { reachable: false, endpoints: ['http://127.0.0.1:2379'], error: 'connect ECONNREFUSED 127.0.0.1:2379' },
      host: { name: 'host1' },
      dataplane: {},
    });
    expect(result.stderr).toBe(NOT_RUNNING);
  });

  it('-o table is the text without -o', async () => {
    const world = await seeded();
    const text =
      'calico-node is not running.\netcd: reachable at http://127.0.0.1:2379 (etcd 3.4.0-memory).\nHost host1: 1 endpoint; 3 profiles in etcd.\nDataplane: not applied yet.\n' +
      '\nIPv4 BGP status\nIP: 192.0.2.10    AS Number: 64511 (inherited)\nBIRD is not running (no /var/run/calico/bird.ctl).\n\n' +
      'IPv6 BGP status\nNo IPv6 address configured.\n\n';
    expect(await world.run(['status'])).toEqual({ code: 1, stdout: text, stderr: NOT_RUNNING });
    expect(await world.run(['status', '-o', 'table'])).toEqual({ code: 1, stdout: text, stderr: NOT_RUNNING });
  });
});

describe('every show command', () => {
  const SHOWS = [
    ['profile', 'show'],
    ['profile', 'show', '--detailed'],
    ['profile', 'databases', 'rule', 'show'],
    ['profile', 'web', 'tag', 'show'],
    ['endpoint', 'show'],
    ['pool', 'show'],
    ['node', 'show'],
    ['status'],
  ];

  it.each(SHOWS.map((argv) => [argv.join(' '), argv]))('%s: a TTY changes nothing but colour, and json/yaml not at all', async (_, argv) => {
    const world = await seeded();
    for (const format of [[], ['-o', 'table'], ['-o', 'wide'], ['-o', 'json'], ['-o', 'yaml']]) {
      const piped = await world.run([...argv, ...format]);
      const tty = await world.run([...argv, ...format], { tty: true });
      expect(piped.stdout).not.toContain('\x1b');
      expect(piped.stderr).not.toContain('\x1b');
      if (format[1] === 'json' || format[1] === 'yaml') {
        expect(tty).toEqual(piped);
        expectClean(piped.stdout);
      } else {
        expect({ ...tty, stdout: stripColour(tty.stdout) }).toEqual(piped);
      }
      if (format[1] === 'json') expect(() => JSON.parse(piped.stdout)).not.toThrow();
    }
  });

  it('status is coloured on a TTY only, and never with NO_COLOR, TERM=dumb or --no-color', async () => {
    const world = await seeded();
    const coloured = await world.run(['status'], { tty: true });
    expect(coloured.stdout.split('\n')[0]).toBe('calico-node is \x1b[31mnot running\x1b[39m.');
    expect(stripColour(coloured.stdout)).toBe((await world.run(['status'])).stdout);
    for (const [env, flags] of [[{ NO_COLOR: '1' }, []], [{ TERM: 'dumb' }, []], [{}, ['--no-color']]] as const) {
      world.env = env;
      const plain = await world.run([...flags, 'status'], { tty: true });
      expect(plain.stdout).not.toContain('\x1b');
      expect(plain.stdout.split('\n')[0]).toBe('calico-node is not running.');
    }
    world.env = { NO_COLOR: '' }; // empty: as if unset
    expect((await world.run(['status'], { tty: true })).stdout).toContain('\x1b[31m');
  });

  it('checksystem colours OK, WARN and FAIL on a TTY only', async () => {
    const world = fakeWorld();
    const piped = await world.run(['checksystem']);
    const tty = await world.run(['checksystem'], { tty: true });
    expect(piped.stdout).not.toContain('\x1b');
    expect(piped.stdout).toMatch(/^OK {3}running as root: yes$/m);
    expect(tty.stdout).toMatch(/^\x1b\[32mOK {2}\x1b\[39m running as root: yes$/m);
    expect(tty.stdout).toMatch(/^\x1b\[33mWARN\x1b\[39m /m);
    expect(tty.stdout).toMatch(/^\x1b\[31mFAIL\x1b\[39m /m);
    expect({ ...tty, stdout: stripColour(tty.stdout) }).toEqual(piped);
    world.env = { NO_COLOR: '1' };
    expect(await world.run(['checksystem'], { tty: true })).toEqual(piped);
    world.env = { TERM: 'dumb' };
    expect(await world.run(['checksystem'], { tty: true })).toEqual(piped);
    world.env = {};
    expect(await world.run(['--no-color', 'checksystem'], { tty: true })).toEqual(piped);
  });

  it.each(SHOWS.map((argv) => [argv.join(' '), argv]))('%s -o xml is a usage error naming the choices', async (_, argv) => {
    const world = await seeded();
    const expected = {
      code: 2,
      stdout: '',
      stderr: "error: option '-o, --output <FORMAT>' argument 'xml' is invalid. Allowed choices are table, wide, json, yaml.\n",
    };
    expect(await runUnchanged(world, [...argv, '-o', 'xml'])).toEqual(expected);
    expect(await runUnchanged(world, [...argv, '--output=xml'])).toEqual(expected);
  });

  it('JSON documents are stable: the same text on every run and after a re-insert in another order', async () => {
    const world = await seeded();
    const first = await show(world, ['profile', 'show', '-o', 'json', '--detailed']);
    expect(await show(world, ['profile', 'show', '-o', 'json', '--detailed'])).toBe(first);
    // Rewrite every key in reverse order: list order in etcd must not show in the output.
    const dump = world.kv.dump();
    world.kv.data.clear();
    for (const key of Object.keys(dump).reverse()) world.kv.seed(key, dump[key]);
    expect(await show(world, ['profile', 'show', '-o', 'json', '--detailed'])).toBe(first);
    expect(await show(world, ['endpoint', 'show', '-o', 'json'])).toBe(jsonText(EP_DOCS));
  });
});
