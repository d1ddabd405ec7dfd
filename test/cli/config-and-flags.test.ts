import { IpamStore } from '../../src/datastore/ipam';
import { type FakeWorld, fakeWorld, type RunResult } from '../fakes/cli';
import { APP_ID, DB_ID, mustRun, networkWorld, runUnchanged, seedEndpoint, words } from './helpers';

/**
 * The config file (-c/--config, default /etc/calico/calicoctl.cfg) and --dry-run, in-process.
 * `status -o json` shows the settings in effect: the etcd endpoints and the host name.
 */

const DEFAULT_CONFIG = '/etc/calico/calicoctl.cfg';

/** Serves `files` (path → contents) through the fake host's readFile, and records every path read. */
function withFiles(world: FakeWorld, files: Record<string, string>): string[] {
  const read: string[] = [];
  world.host = { ...world.host, readFile: (path) => (read.push(path), files[path]) };
  return read;
}

/** The settings in effect, as `status -o json` reports them (it exits 1: no agent runs in-process). */
async function settingsOf(world: FakeWorld, argv: string[] = []): Promise<{ endpoints: string[]; hostname: string }> {
  const result = await world.run([...argv, 'status', '-o', 'json']);
  expect(result.stderr).toBe('calico-node is not running: start it with calicoctl node.\n');
  const report = JSON.parse(result.stdout) as { etcd: { endpoints: string[] }; host: { name: string } };
  return { endpoints: report.etcd.endpoints, hostname: report.host.name };
}

describe('the config file', () => {
  const V3_YAML = [
    'apiVersion: projectcalico.org/v3',
    'kind: CalicoAPIConfig',
    'metadata: {}',
    'spec:',
    '  etcdEndpoints: http://10.0.0.1:2379,http://10.0.0.2:2379',
    '  hostname: fromfile',
    '',
  ].join('\n');
  const V3_JSON = JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'CalicoAPIConfig',
    spec: { etcdEndpoints: 'http://10.0.0.1:2379,http://10.0.0.2:2379', hostname: 'fromfile' },
  });
  const FLAT_YAML = 'etcdEndpoints: http://10.0.0.1:2379,http://10.0.0.2:2379\nhostname: fromfile\n';
  const FLAT_JSON = '{"etcdEndpoints": "http://10.0.0.1:2379,http://10.0.0.2:2379", "hostname": "fromfile"}';
  const FROM_FILE = { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], hostname: 'fromfile' };

  it.each([
    ['calicoctl v3 YAML', V3_YAML],
    ['calicoctl v3 JSON', V3_JSON],
    ['flat YAML', FLAT_YAML],
    ['flat JSON', FLAT_JSON],
    ['flat YAML with the variables\' own names', 'ETCD_ENDPOINTS: http://10.0.0.1:2379,http://10.0.0.2:2379\nHOSTNAME: fromfile\n'],
  ])('reads %s from -c, --config and --config=', async (_, text) => {
    for (const flags of [['-c', '/tmp/c.cfg'], ['--config', '/tmp/c.cfg'], ['--config=/tmp/c.cfg']]) {
      const world = fakeWorld();
      withFiles(world, { '/tmp/c.cfg': text });
      expect(await settingsOf(world, flags)).toEqual(FROM_FILE);
    }
  });

  it('reads the default file when there is one, and is fine without it', async () => {
    const world = fakeWorld();
    const read = withFiles(world, { [DEFAULT_CONFIG]: FLAT_YAML });
    expect(await settingsOf(world)).toEqual(FROM_FILE);
    expect(read).toContain(DEFAULT_CONFIG);

    const bare = fakeWorld();
    const readBare = withFiles(bare, {});
    expect(await settingsOf(bare)).toEqual({ endpoints: ['http://127.0.0.1:2379'], hostname: 'host1' });
    expect(readBare).toContain(DEFAULT_CONFIG);
    expect(await mustRun(bare, ['profile', 'add', 'web'])).toBe('Created profile web\n');
  });

  it('-c replaces the default file: only the named file is read', async () => {
    const world = fakeWorld();
    withFiles(world, { [DEFAULT_CONFIG]: 'hostname: default\n', '/tmp/c.cfg': 'hostname: named\n' });
    expect((await settingsOf(world, ['-c', '/tmp/c.cfg'])).hostname).toBe('named');
    expect((await settingsOf(world)).hostname).toBe('default');
  });

  it('takes -c after the command words too', async () => {
    const world = await networkWorld();
    withFiles(world, { '/tmp/c.cfg': 'bogus: 1\n' });
    for (const argv of [['profile', 'show', '-c', '/tmp/c.cfg'], ['profile', 'databases', 'rule', 'show', '--config', '/tmp/c.cfg']]) {
      const result = await world.run(argv);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^\/tmp\/c\.cfg: unknown key 'bogus'/);
    }
  });

  it('the environment wins over the file, key by key; an empty variable does not count', async () => {
    const world = fakeWorld();
    withFiles(world, { '/tmp/c.cfg': V3_YAML });
    world.env = { ETCD_ENDPOINTS: 'http://192.0.2.9:4001' };
    expect(await settingsOf(world, ['-c', '/tmp/c.cfg'])).toEqual({ endpoints: ['http://192.0.2.9:4001'], hostname: 'fromfile' });
    world.env = { HOSTNAME: 'fromenv' };
    expect(await settingsOf(world, ['-c', '/tmp/c.cfg'])).toEqual({ ...FROM_FILE, hostname: 'fromenv' });
    world.env = { HOSTNAME: '', ETCD_ENDPOINTS: '' };
    expect(await settingsOf(world, ['-c', '/tmp/c.cfg'])).toEqual(FROM_FILE);
  });

  it('etcdAuthority and etcdScheme build the endpoint, as the variables do', async () => {
    const world = fakeWorld();
    withFiles(world, { '/tmp/c.cfg': 'etcdAuthority: 192.0.2.1:2379\netcdScheme: http\n' });
    expect((await settingsOf(world, ['-c', '/tmp/c.cfg'])).endpoints).toEqual(['http://192.0.2.1:2379']);
  });

  it('a value from the file is validated under its variable\'s name; numbers are accepted', async () => {
    const world = await networkWorld();
    withFiles(world, { '/tmp/bad.cfg': 'etcdTimeout: soon\n', '/tmp/ok.cfg': 'etcdTimeout: 2\nnoDefaultPools: true\n' });
    const bad = await world.run(['-c', '/tmp/bad.cfg', 'profile', 'show']);
    expect(bad).toEqual({ code: 1, stdout: '', stderr: "Invalid ETCD_TIMEOUT 'soon': give a duration such as 5, 2.5s or 500ms (at most 1 hour).\n" });
    expect((await world.run(['-c', '/tmp/ok.cfg', 'profile', 'show', '-q'])).stdout).toBe(`${APP_ID}\n${DB_ID}\n`);
  });

  it('an unknown key is exit 1 naming the key and the known ones, and nothing is written', async () => {
    for (const text of ['etcdEndpoint: http://10.0.0.1:2379\n', '{"spec": {"etcdEndpoint": "http://10.0.0.1:2379"}}']) {
      const world = fakeWorld();
      withFiles(world, { '/tmp/c.cfg': text });
      const result = await runUnchanged(world, ['-c', '/tmp/c.cfg', 'profile', 'add', 'web']);
      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr:
          "/tmp/c.cfg: unknown key 'etcdEndpoint'. Known keys: etcdEndpoints, etcdAuthority, etcdScheme, etcdCACertFile, etcdCertFile, " +
          'etcdKeyFile, etcdUsername, etcdPassword, etcdTimeout, dockerHost, hostname, noDefaultPools.\n',
      });
    }
  });

  it('an unknown top-level key of the v3 shape, or another kind, is exit 1 naming it', async () => {
    const world = fakeWorld();
    withFiles(world, {
      '/tmp/extra.cfg': 'apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec: {}\nstatus: {}\n',
      '/tmp/kind.cfg': 'apiVersion: projectcalico.org/v3\nkind: Profile\nspec: {}\n',
    });
    expect(await runUnchanged(world, ['-c', '/tmp/extra.cfg', 'profile', 'add', 'web'])).toEqual({ code: 1, stdout: '', stderr: "/tmp/extra.cfg: unknown key 'status'.\n" });
    expect(await runUnchanged(world, ['-c', '/tmp/kind.cfg', 'profile', 'add', 'web'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "/tmp/kind.cfg: kind must be CalicoAPIConfig, not 'Profile'.\n",
    });
  });

  it('a file that is not a map of plain values is exit 1', async () => {
    const world = fakeWorld();
    withFiles(world, {
      '/tmp/list.cfg': '- etcdEndpoints\n',
      '/tmp/nested.cfg': 'etcdEndpoints:\n  a: b\n',
      '/tmp/broken.json': '{"etcdEndpoints": ',
      '/tmp/broken.yaml': 'etcdEndpoints: [\n',
    });
    const errorOf = async (file: string) => {
      const result = await runUnchanged(world, ['-c', file, 'profile', 'show']);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      return result.stderr;
    };
    expect(await errorOf('/tmp/list.cfg')).toBe('/tmp/list.cfg must hold a map of settings (YAML or JSON).\n');
    expect(await errorOf('/tmp/nested.cfg')).toBe("/tmp/nested.cfg: 'etcdEndpoints' must be a string, number or boolean.\n");
    expect(await errorOf('/tmp/broken.json')).toMatch(/^The contents of \/tmp\/broken\.json are not valid JSON: /);
    expect(await errorOf('/tmp/broken.yaml')).toMatch(/^The contents of \/tmp\/broken\.yaml are neither valid JSON nor valid YAML: /);
  });

  it('an empty file is no settings', async () => {
    const world = fakeWorld();
    withFiles(world, { '/tmp/empty.cfg': '\n' });
    expect(await settingsOf(world, ['-c', '/tmp/empty.cfg'])).toEqual({ endpoints: ['http://127.0.0.1:2379'], hostname: 'host1' });
  });

  it('a missing file given with -c is exit 1 naming it; nothing is written', async () => {
    const world = fakeWorld();
    withFiles(world, {});
    expect(await runUnchanged(world, ['-c', '/nope/calicoctl.cfg', 'profile', 'add', 'web'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Cannot read the config file /nope/calicoctl.cfg (--config).\n',
    });
    expect(await runUnchanged(world, ['--config=/nope/calicoctl.cfg', 'pool', 'show'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Cannot read the config file /nope/calicoctl.cfg (--config).\n',
    });
  });

  it('-c without a file is a usage error', async () => {
    const world = fakeWorld();
    const result = await world.run(['profile', 'show', '-c']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("error: option '-c, --config <file>' argument missing\n");
  });
});

describe('--dry-run', () => {
  const EP1 = 'ep1aaaaaaaaaaaaaaaa';
  const EP2 = 'ep2bbbbbbbbbbbbbbbb';
  const PROFILE = '/calico/v1/policy/profile/';
  const EP_KEY = (host: string, id: string) => `/calico/v1/host/${host}/workload/libnetwork/libnetwork/endpoint/${id}`;
  const EP_VALUE = (state: string, name: string, profiles: string[]) =>
    JSON.stringify({ state, name, mac: 'EE:EE:EE:EE:EE:EE', profile_ids: profiles, labels: {}, ipv4_nets: ['192.168.0.1/32'], ipv6_nets: [] });

  /** Networks databases and applications, a plain profile web, a pool with one address assigned on host2, endpoints on host1 and host2. */
  async function seeded(): Promise<FakeWorld> {
    const world = await networkWorld();
    await mustRun(world, ['profile', 'add', 'web']);
    await mustRun(world, ['profile', 'web', 'tag', 'add', 'frontend']);
    await mustRun(world, words('profile databases rule add inbound allow tcp from tag applications to ports 3306'));
    await mustRun(world, ['pool', 'add', '10.65.0.0/16']);
    seedEndpoint(world, { host: 'host1', id: EP1, profiles: [DB_ID] });
    seedEndpoint(world, { host: 'host2', id: EP2, profiles: [APP_ID, 'web'], state: 'inactive' });
    await new IpamStore(world.kv).assignAddress('10.65.0.5', 'host2');
    world.kv.seed('/calico/v1/host/host2/bird_ip', '192.0.2.20');
    world.kv.seed('/calico/bgp/v1/host/host2/ip_addr_v4', '192.0.2.20');
    return world;
  }

  const DB_RULES = (...extra: object[]) =>
    JSON.stringify({
      inbound_rules: [{ action: 'allow', src_tag: DB_ID }, { action: 'allow', protocol: 'tcp', src_tag: APP_ID, dst_ports: [3306] }, ...extra],
      outbound_rules: [{ action: 'allow' }],
    });

  const CASES: [string, string[], string[], string?][] = [
    [
      'profile add',
      ['profile', 'add', 'new1'],
      [
        `Would set ${PROFILE}new1/tags to ["new1"]`,
        `Would set ${PROFILE}new1/rules to {"inbound_rules":[{"action":"allow","src_tag":"new1"}],"outbound_rules":[{"action":"allow"}]}`,
        `Would set ${PROFILE}new1/labels to {}`,
        'Created profile new1',
      ],
    ],
    ['profile remove', ['profile', 'remove', 'web', '--no-check'], [`Would delete every key under ${PROFILE}web/`, 'Deleted profile web']],
    ['profile rule add', words('profile databases rule add inbound deny udp'), [`Would set ${PROFILE}${DB_ID}/rules to ${DB_RULES({ action: 'deny', protocol: 'udp' })}`, 'Impact on connections between endpoints (probed: udp): none.']],
    [
      'profile rule remove',
      ['profile', 'databases', 'rule', 'remove', 'inbound', '--at=2'],
      [`Would set ${PROFILE}${DB_ID}/rules to {"inbound_rules":[{"action":"allow","src_tag":"${DB_ID}"}],"outbound_rules":[{"action":"allow"}]}`, 'Impact on connections between endpoints (probed: tcp 3306): none.'],
    ],
    [
      'profile rule update',
      ['profile', 'web', 'rule', 'update'],
      [`Would set ${PROFILE}web/rules to {"inbound_rules":[],"outbound_rules":[{"action":"deny"}]}`, 'Successfully updated rules on profile web', 'Impact on connections between endpoints (probed: any protocol): none.'],
      'inbound_rules: []\noutbound_rules:\n  - action: deny\n',
    ],
    ['profile tag add', ['profile', 'web', 'tag', 'add', 'databases'], [`Would set ${PROFILE}web/tags to ["web","frontend","databases"]`, 'Tag databases added to profile web', 'Impact on connections between endpoints (probed: any protocol): none.']],
    ['profile tag remove', ['profile', 'web', 'tag', 'remove', 'frontend'], [`Would set ${PROFILE}web/tags to ["web"]`, 'Tag frontend removed from profile web', 'Impact on connections between endpoints (probed: any protocol): none.']],
    ['pool add', ['pool', 'add', '10.66.0.0/16', '--ipip'], ['Would set /calico/v1/ipam/v4/pool/10.66.0.0-16 to {"cidr":"10.66.0.0/16","ipip":"tunl0"}', 'Would set /calico/v1/config/IpInIpEnabled to true']],
    ['pool remove', ['pool', 'remove', '10.65.0.0/16'], ['Would delete /calico/v1/ipam/v4/pool/10.65.0.0-16', 'Would delete /calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26', 'Deleted IP Pool 10.65.0.0/16']],
    ['pool range add', ['pool', 'range', 'add', '10.70.0.0', '10.70.3.255'], ['Would set /calico/v1/ipam/v4/pool/10.70.0.0-22 to {"cidr":"10.70.0.0/22"}']],
    ['ipam release', ['ipam', 'release', '10.65.0.5'], ['Would delete /calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26', 'Address successfully released']],
    [
      'endpoint profile append',
      ['endpoint', EP1, 'profile', 'append', 'web'],
      [`Would set ${EP_KEY('host1', EP1)} to ${EP_VALUE('active', 'caliep1aaaaaaaa', [DB_ID, 'web'])}`, 'Profile(s) web appended.', 'Impact on connections between endpoints (probed: any protocol): none.'],
    ],
    [
      'endpoint profile remove',
      ['endpoint', 'profile', 'remove', EP2, 'web'],
      [`Would set ${EP_KEY('host2', EP2)} to ${EP_VALUE('inactive', 'caliep2bbbbbbbb', [APP_ID])}`, 'Profile(s) web removed.', 'Impact on connections between endpoints (probed: any protocol): none.'],
    ],
    [
      'endpoint profile set',
      ['endpoint', EP2, 'profile', 'set', '--host=host2'],
      [`Would set ${EP_KEY('host2', EP2)} to ${EP_VALUE('inactive', 'caliep2bbbbbbbb', [])}`, 'Removed all profiles from endpoint.', 'Impact on connections between endpoints (probed: any protocol, tcp 3306): none.'],
    ],
    [
      'node remove (another host)',
      ['node', 'remove', '--hostname', 'host2', '--remove-endpoints'],
      [
        'Would delete /calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26',
        'Would delete every key under /calico/v1/host/host2/',
        'Would delete every key under /calico/bgp/v1/host/host2/',
        'Node configuration removed',
      ],
    ],
    [
      'node remove (this host: no interface is deleted either)',
      ['node', 'remove', '--remove-endpoints'],
      ['Would delete the interface caliep1aaaaaaaa', 'Would delete every key under /calico/v1/host/host1/', 'Would delete every key under /calico/bgp/v1/host/host1/', 'Node configuration removed'],
    ],
  ];

  /** The keyspace after the writes a dry run described. */
  function applyDescribed(before: Record<string, unknown>, lines: string[]): Record<string, unknown> {
    const after = { ...before };
    for (const line of lines) {
      let match: RegExpExecArray | null;
      if ((match = /^Would set (\S+) to (.*)$/.exec(line))) after[match[1] as string] = JSON.parse(match[2] as string);
      else if ((match = /^Would delete every key under (\S+)$/.exec(line))) {
        for (const key of Object.keys(after)) if (key.startsWith(match[1] as string)) delete after[key];
      } else if ((match = /^Would delete (\/\S+)$/.exec(line))) delete after[match[1] as string];
    }
    return after;
  }

  // Each case is passed as one array: jest would take a 4th parameter missing from a row for `done`.
  const cases = CASES.map((row) => [row[0], row] as const);

  it.each(cases)('%s: prints the writes on stdout, says so on stderr, exits 0 and changes nothing', async (_, [, argv, lines, stdin]) => {
    const world = await seeded();
    const result = await runUnchanged(world, [...argv, '--dry-run'], stdin === undefined ? {} : { stdin });
    expect(result).toEqual({ code: 0, stdout: lines.map((line) => `${line}\n`).join(''), stderr: 'Dry run: nothing was changed.\n' });
  });

  it.each(cases)('%s: the same command without --dry-run makes exactly the writes described', async (_, [, argv, lines, stdin]) => {
    const world = await seeded();
    const before = world.kv.dump();
    const real: RunResult = await world.run(argv, stdin === undefined ? {} : { stdin });
    expect(real.code).toBe(0);
    expect(world.kv.dump()).toEqual(applyDescribed(before, lines));
    // The command's own message is the same with and without --dry-run.
    // The impact preview is a dry run's alone.
    expect(real.stdout).toBe(lines.filter((line) => !line.startsWith('Would ') && !line.startsWith('Impact ')).map((line) => `${line}\n`).join(''));
  });

  it('--dry-run may come anywhere after the command words', async () => {
    const world = await seeded();
    for (const argv of [
      ['profile', 'add', '--dry-run', 'new1'],
      ['profile', 'web', 'rule', 'add', '--dry-run', 'inbound', 'deny', 'udp'],
      ['pool', 'add', '--dry-run', '10.66.0.0/16'],
    ]) {
      const result = await runUnchanged(world, argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Would set /);
      expect(result.stderr).toBe('Dry run: nothing was changed.\n');
    }
  });

  it('a refused write fails as it would without --dry-run, with no dry-run note', async () => {
    const world = await seeded();
    expect(await runUnchanged(world, ['profile', 'remove', 'web', '--dry-run'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "Cannot remove profile - profile in use by endpoint(s). Use the '--no-check' flag to remove the profile anyway.\n",
    });
    expect(await runUnchanged(world, ['pool', 'remove', '10.99.0.0/16', '--dry-run'])).toEqual({ code: 1, stdout: '', stderr: '10.99.0.0/16 is not a configured pool.\n' });
  });

  it('a write that changes nothing describes nothing', async () => {
    const world = await seeded();
    expect(await runUnchanged(world, ['profile', 'add', 'web', '--dry-run'])).toEqual({ code: 0, stdout: 'Profile web already exists.\n', stderr: 'Dry run: nothing was changed.\n' });
  });

  it('commands that do not write have no --dry-run', async () => {
    const world = await seeded();
    for (const argv of [['profile', 'show'], ['pool', 'show'], ['endpoint', 'show'], ['ipam', 'info', '10.65.0.5'], ['profile', 'web', 'rule', 'show']]) {
      expect(await runUnchanged(world, [...argv, '--dry-run'])).toEqual({ code: 2, stdout: '', stderr: "error: unknown option '--dry-run'\n" });
    }
  });

  it('node stop and node show refuse the --dry-run that belongs to node itself', async () => {
    const world = await seeded();
    for (const verb of ['stop', 'show']) {
      expect(await runUnchanged(world, ['node', verb, '--dry-run'])).toEqual({ code: 2, stdout: '', stderr: `'node ${verb}' has no --dry-run: it would run for real.\n` });
    }
  });
});
