import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { settlesAs } from './harness/poll';
import { Teardown } from './harness/teardown';

// The seed tutorial on this host, with real containers: `calicoctl policy trace` and `policy
// matrix` give the verdicts that real connections get (busybox nc -w 1 to httpd, ping -W 1),
// before and after the tutorial's rule. Probes go only between this file's own containers.
// It uses the machine's Docker and iptables: run it under `flock /tmp/calico-host.lock`.

jest.setTimeout(180_000);

const SERVERS = 'httpd -p 3306 -h /www && httpd -p 8080 -h /www && exec sleep 86400';
type Probe = 'tcp 3306' | 'tcp 8080' | 'ping';

let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let image: string;
const containers: string[] = [];
const networks: string[] = [];
const ips = new Map<string, string>();
/** Each label's Docker name. */
const names = new Map<string, string>();

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.65.0.0-16', JSON.stringify({ cidr: '10.65.0.0/16' }));
  agent = await startAgent(etcd);
}, 300_000);

afterAll(async () => {
  const teardown = new Teardown();
  // Docker tears endpoints down through the plugin, so the agent serves while containers go.
  await teardown.attempt(() => cleanupDocker({ containers, networks }));
  await teardown.attempt(async () => agent?.stop());
  await teardown.attempt(() => cleanupDataplane());
  await teardown.attempt(async () => etcd?.stop());
  teardown.done();
}, 300_000);

async function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return calicoctl(args, etcd.env);
}

async function network(label: string): Promise<void> {
  const name = uniqueName(label);
  networks.push(name);
  names.set(label, name);
  expect(await docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', name)).toMatchObject({ code: 0 });
}

async function container(label: string, net: string): Promise<void> {
  const name = uniqueName(label);
  containers.push(name);
  names.set(label, name);
  expect(await docker('run', '-d', '--name', name, '--net', names.get(net)!, image, 'sh', '-c', SERVERS)).toMatchObject({ code: 0 });
  const inspected = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${names.get(net)}").IPAddress}}`, name);
  ips.set(label, inspected.stdout.trim());
}

async function connects(from: string, to: string, probe: Probe): Promise<boolean> {
  if (probe === 'ping') return (await docker('exec', names.get(from)!, 'ping', '-c', '1', '-W', '1', ips.get(to)!)).code === 0;
  const r = await docker('exec', names.get(from)!, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ips.get(to)} ${probe.slice(4)}`);
  return r.stdout.includes('200 OK');
}

/** `policy trace` by container names: exit 0 allowed, 1 dropped; the last line says which. */
async function traced(from: string, to: string, probe: Probe): Promise<boolean> {
  const words = probe === 'ping' ? ['icmp'] : probe.split(' ');
  const result = await ctl('policy', 'trace', names.get(from)!, names.get(to)!, ...words);
  expect(result.stderr).toBe('');
  expect([0, 1]).toContain(result.code);
  expect(result.stdout.trim().split('\n').at(-1)).toBe(result.code === 0 ? 'Verdict: allowed' : 'Verdict: dropped');
  return result.code === 0;
}

/** Each pair's trace verdict is `want`, and a real connection agrees (an allowed one may take a moment to be programmed). */
async function agree(cases: ReadonlyArray<readonly [string, string, Probe, boolean]>): Promise<void> {
  const line = (from: string, to: string, probe: Probe, allowed: boolean) => `${from} -> ${to} ${probe}: ${allowed ? 'allowed' : 'dropped'}`;
  const want = cases.map(([from, to, probe, allowed]) => line(from, to, probe, allowed));
  expect(await Promise.all(cases.map(async ([from, to, probe]) => line(from, to, probe, await traced(from, to, probe))))).toEqual(want);
  const allowedFirst = [...cases].sort((a, b) => Number(b[3]) - Number(a[3]));
  const real: string[] = [];
  for (const [from, to, probe, allowed] of allowedFirst) real.push(line(from, to, probe, allowed ? await settlesAs(() => connects(from, to, probe), true) : await connects(from, to, probe)));
  expect(real.sort()).toEqual([...want].sort());
}

describe('the seed tutorial: policy trace and policy matrix agree with real connections', () => {
  beforeAll(async () => {
    await network('databases');
    await network('applications');
    await container('db1', 'databases');
    await container('db2', 'databases');
    await container('app1', 'applications');
  });

  it('before the rule: databases reach each other, applications reach no database', async () => {
    await agree([
      ['db2', 'db1', 'tcp 3306', true],
      ['db1', 'db2', 'ping', true],
      ['app1', 'db1', 'tcp 3306', false],
      ['app1', 'db1', 'ping', false],
      ['db1', 'app1', 'tcp 8080', false],
    ]);
  });

  it('the rule the tutorial adds lets app1 reach the databases on 3306 only, and trace names it', async () => {
    expect(await ctl('profile', names.get('databases')!, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', names.get('applications')!, 'to', 'ports', '3306')).toMatchObject({ code: 0 });
    await agree([
      ['app1', 'db1', 'tcp 3306', true],
      ['app1', 'db2', 'tcp 3306', true],
      ['db2', 'db1', 'tcp 8080', true],
      ['app1', 'db1', 'tcp 8080', false],
      ['app1', 'db1', 'ping', false],
      ['db1', 'app1', 'tcp 3306', false],
    ]);
    const trace = await ctl('policy', 'trace', names.get('app1')!, names.get('db1')!, 'tcp', '3306');
    expect(trace.stdout).toContain(`  ${names.get('databases')} inbound rule 2: allow tcp from tag ${names.get('applications')} to ports 3306\n`);
    // By address and with --any too.
    expect((await ctl('policy', 'trace', '--any', names.get('applications')!, ips.get('db1')!, 'tcp', '3306')).code).toBe(0);
  });

  it('policy matrix gives the same verdicts, by network and by container', async () => {
    const only = ['--network', names.get('databases')!, '--network', names.get('applications')!];
    const byNetwork = await ctl('policy', 'matrix', ...only, 'tcp', '3306', '-o', 'json');
    expect(byNetwork).toMatchObject({ code: 0, stderr: '' });
    const cell = (doc: string, from: string, to: string) =>
      (JSON.parse(doc).cells as { from: string; to: string; verdict: string }[]).find((c) => c.from === from && c.to === to)?.verdict;
    expect(cell(byNetwork.stdout, names.get('applications')!, names.get('databases')!)).toBe('allow');
    expect(cell(byNetwork.stdout, names.get('databases')!, names.get('applications')!)).toBe('drop');
    expect(cell(byNetwork.stdout, names.get('databases')!, names.get('databases')!)).toBe('allow');
    const byContainer = await ctl('policy', 'matrix', '--containers', ...only, 'tcp', '8080', '-o', 'json');
    expect(cell(byContainer.stdout, names.get('app1')!, names.get('db1')!)).toBe('drop');
    expect(cell(byContainer.stdout, names.get('db2')!, names.get('db1')!)).toBe('allow');
    const table = await ctl('policy', 'matrix', ...only);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^any protocol, rows from, columns to:\n\+-/);
  });

  it('a dry run of removing the rule previews the pairs it would drop, and changes nothing', async () => {
    const result = await ctl('profile', names.get('databases')!, 'rule', 'remove', 'inbound', '--at', '2', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`  newly dropped: ${names.get('app1')} -> ${names.get('db1')} (tcp 3306)\n`);
    expect(await traced('app1', 'db1', 'tcp 3306')).toBe(true);
  });
});
