import * as net from 'net';
import { calicoctl, type CliResult } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';

jest.setTimeout(120_000);

let etcd: EtcdServer;
const networks: string[] = [];

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
});

afterAll(async () => {
  await cleanupDocker({ networks });
  await etcd?.stop();
});

const run = (...args: string[]): Promise<CliResult> => calicoctl(args, etcd.env);

async function bridgeNetwork(prefix: string): Promise<{ name: string; id: string }> {
  const name = uniqueName(prefix);
  const created = await docker('network', 'create', '--driver', 'bridge', name);
  expect(created.code).toBe(0);
  networks.push(name);
  return { name, id: created.stdout.trim() };
}

describe('the tutorial, against a real etcd and Docker Engine', () => {
  it('shows and edits a network profile by network name', async () => {
    const databases = await bridgeNetwork('databases');
    const applications = await bridgeNetwork('applications');
    // What the network driver does on CreateNetwork: a default profile named by the network ID.
    expect((await run('profile', 'add', databases.id)).code).toBe(0);
    expect((await run('profile', 'add', applications.id)).code).toBe(0);

    expect(await run('profile', databases.name, 'rule', 'show')).toEqual({
      code: 0,
      stdout: `Inbound rules:\n   1 allow from tag ${databases.name}\nOutbound rules:\n   1 allow\n`,
      stderr: '',
    });

    const add = await run('profile', databases.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', applications.name, 'to', 'ports', '3306');
    expect(add).toEqual({ code: 0, stdout: '', stderr: '' });

    expect((await run('profile', databases.name, 'rule', 'show')).stdout).toBe(
      `Inbound rules:\n   1 allow from tag ${databases.name}\n   2 allow tcp from tag ${applications.name} to ports 3306\nOutbound rules:\n   1 allow\n`,
    );
    const stored = JSON.parse(await etcdctl(etcd, 'get', '--print-value-only', `/calico/v1/policy/profile/${databases.id}/rules`));
    expect(stored).toEqual({
      inbound_rules: [
        { action: 'allow', src_tag: databases.id },
        { action: 'allow', protocol: 'tcp', src_tag: applications.id, dst_ports: [3306] },
      ],
      outbound_rules: [{ action: 'allow' }],
    });
  });

  it('refuses a tag that is not a Docker network, and writes nothing', async () => {
    const net = await bridgeNetwork('web');
    await run('profile', 'add', net.id);
    const before = await etcdctl(etcd, 'get', '--prefix', '/calico/v1/policy/profile/');
    const result = await run('profile', net.name, 'rule', 'add', 'inbound', 'allow', 'from', 'tag', 'no-such-network');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'You are referencing a Docker network (no-such-network) that does not exist.  Create the network first and then update this profile rule to reference it.\n',
    );
    expect(await etcdctl(etcd, 'get', '--prefix', '/calico/v1/policy/profile/')).toBe(before);
  });

  it('says in one line when Docker is unreachable', async () => {
    const result = await calicoctl(['profile', 'not-a-profile', 'rule', 'show'], { ...etcd.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('Profile not-a-profile not found.');
    expect(result.stderr).toContain('unix:///nonexistent/docker.sock');
  });
});

describe('concurrent edits', () => {
  it('keeps every one of 50 concurrent rule adds', async () => {
    expect((await run('profile', 'add', 'busy')).code).toBe(0);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run('profile', 'busy', 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', String(10000 + i))),
    );
    expect(results.filter((r) => r.code !== 0)).toEqual([]);
    const rules = JSON.parse((await run('profile', 'busy', 'rule', 'json')).stdout);
    expect(rules.inbound_rules).toHaveLength(51);
    const ports = rules.inbound_rules.slice(1).map((r: { dst_ports: number[] }) => r.dst_ports[0]).sort();
    expect(ports).toEqual(Array.from({ length: 50 }, (_, i) => 10000 + i));
  });
});

describe('etcd failures', () => {
  it('fails fast, in one line naming the endpoint, when etcd is down', async () => {
    const down = await startEtcd();
    const env = down.env;
    await down.stop();
    const started = Date.now();
    const result = await calicoctl(['profile', 'show'], env);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`Cannot connect to etcd at ${down.endpoint}: connection refused. Is etcd running? Check ETCD_ENDPOINTS.\n`);
  });

  it('bounds a silent endpoint by --timeout', async () => {
    const server = net.createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const started = Date.now();
      const result = await calicoctl(['--timeout', '0.5', 'profile', 'show'], { ETCD_ENDPOINTS: `http://127.0.0.1:${port}` });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/did not answer within 500 ms.*--timeout/);
    } finally {
      server.close();
    }
  });

  it('names the variable when the settings are wrong', async () => {
    const result = await calicoctl(['profile', 'show'], { ETCD_ENDPOINTS: '127.0.0.1:2379' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Invalid ETCD_ENDPOINTS\./);
    const noCa = await calicoctl(['profile', 'show'], { ETCD_ENDPOINTS: 'https://127.0.0.1:2379', ETCD_CA_CERT_FILE: '/nonexistent/ca.pem' });
    expect(noCa.stderr).toMatch(/^Invalid ETCD_CA_CERT_FILE.*\/nonexistent\/ca.pem/);
  });
});

describe('TLS with client certificates', () => {
  it('runs the profile commands over mutual TLS', async () => {
    const secure = await startEtcd({ tls: true });
    try {
      const run = (...args: string[]) => calicoctl(args, secure.env);
      expect(await run('profile', 'add', 'secure')).toEqual({ code: 0, stdout: 'Created profile secure\n', stderr: '' });
      expect((await run('profile', 'secure', 'rule', 'add', 'outbound', 'deny', 'udp', 'to', 'ports', '53')).code).toBe(0);
      expect((await run('profile', 'secure', 'rule', 'show')).stdout).toBe(
        'Inbound rules:\n   1 allow from tag secure\nOutbound rules:\n   1 allow\n   2 deny udp to ports 53\n',
      );
      const withoutCert = await calicoctl(['profile', 'show'], { ETCD_ENDPOINTS: secure.endpoint, ETCD_CA_CERT_FILE: secure.certs!.ca });
      expect(withoutCert.code).toBe(1);
      expect(withoutCert.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await secure.stop();
    }
  });
});
