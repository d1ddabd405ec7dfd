import { execFile } from 'child_process';
import * as os from 'os';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl, type CliResult } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, type RunResult, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { settlesAs } from './harness/poll';
import { Teardown } from './harness/teardown';

// `calicoctl container …` against real etcd, Docker, iproute2, iptables and bin/calico-node: two
// --net=none busybox containers get Calico interfaces from calicoctl itself, a profile's rules
// decide which real TCP connections between them get through, a second address comes and goes,
// and `container remove` leaves no veth, address, endpoint or route behind. Uses the machine's
// Docker and root-namespace iptables: run under `flock /tmp/calico-host.lock`. Probes go only
// between this file's own containers and are bounded (nc -w 1).

jest.setTimeout(300_000);

const HOSTNAME = process.env.HOSTNAME || os.hostname();
const POOL_V4 = '10.67.0.0/16';
const POOL_V6 = 'fd67::/64';
const SERVERS = 'httpd -p 8080 -h /www && httpd -p 3306 -h /www && exec sleep 86400';

let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let image: string;
const containers: string[] = [];
/** Network namespaces this file made (ip netns add), for `container` by namespace path. */
const namespaces: string[] = [];

interface Ctr {
  readonly name: string;
  readonly id: string;
}

let client: Ctr;
let server: Ctr;
let bridged: Ctr;

function sh(file: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const ctl = (...args: string[]): Promise<CliResult> => calicoctl(args, etcd.env);

/** Runs calicoctl, which must succeed and print exactly `stdout`. */
async function ok(args: string[], stdout = ''): Promise<void> {
  expect({ args: args.join(' '), ...(await ctl(...args)) }).toEqual({ args: args.join(' '), code: 0, stdout, stderr: '' });
}

async function run(label: string, net = 'none'): Promise<Ctr> {
  const name = uniqueName(label);
  containers.push(name);
  const started = await docker('run', '-d', '--name', name, '--net', net, image, 'sh', '-c', SERVERS);
  expect(started).toMatchObject({ code: 0, stderr: '' });
  return { name, id: started.stdout.trim() };
}

/** One bounded HTTP request over TCP: true iff the answer arrives. */
async function connects(from: Ctr, ip: string, port: number): Promise<boolean> {
  const r = await docker('exec', from.name, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ip} ${port}`);
  return r.stdout.includes('200 OK');
}

/** The verdict once the dataplane has settled: an allowed one is polled until it holds, a dropped one until it holds too. */
const settles = (from: Ctr, ip: string, port: number, want: boolean) => settlesAs(() => connects(from, ip, port), want);

async function endpointKeys(ctr: Ctr): Promise<string[]> {
  const out = await etcdctl(etcd, 'get', '--prefix', '--keys-only', `/calico/v1/host/${HOSTNAME}/workload/docker/${ctr.id}/`);
  return out.split('\n').filter((line) => line !== '');
}

async function addresses(ctr: Ctr, iface = 'eth1'): Promise<string[]> {
  const r = await docker('exec', ctr.name, 'ip', '-4', '-o', 'addr', 'show', 'dev', iface);
  return [...r.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1] as string);
}

const diagsClean = async (): Promise<boolean> => (await ctl('diags', '--check')).code === 0;

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  // Whatever an earlier run left in the kernel would be (rightly) reported by diags --check.
  await cleanupDataplane();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.67.0.0-16', JSON.stringify({ cidr: POOL_V4 }));
  agent = await startAgent(etcd);
  [client, server, bridged] = await Promise.all([run('ctr-client'), run('ctr-server'), run('ctr-bridged', 'bridge')]);
}, 600_000);

afterAll(async () => {
  const teardown = new Teardown();
  const attempt = (step: () => Promise<unknown>) => teardown.attempt(step);
  // The interfaces go with the containers' namespaces; the agent then drops their routes and chains.
  await attempt(() => cleanupDocker({ containers }));
  for (const ns of namespaces) await attempt(() => sh('ip', 'netns', 'del', ns));
  await attempt(async () => agent?.stop());
  await attempt(() => cleanupDataplane());
  await attempt(async () => etcd?.stop());
  teardown.done();
}, 300_000);

describe('calicoctl container on this host', () => {
  it('adds two --net=none containers: an eth1 with the address in each, an endpoint under orchestrator docker', async () => {
    await ok(['container', 'add', client.name, '10.67.0.10'], `IP 10.67.0.10 added to ${client.name}\n`);
    const added = await ctl('container', 'add', server.name, 'ipv4');
    expect(added).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^IP 10\\.67\\.\\d+\\.\\d+ added to ${server.name}\\n$`)), stderr: '' });
    expect(await addresses(client)).toEqual(['10.67.0.10/32']);
    expect(await endpointKeys(client)).toEqual([expect.stringMatching(/\/endpoint\/[0-9a-f]{32}$/)]);
    expect((await docker('exec', client.name, 'ip', 'route', 'show', 'default')).stdout).toContain('default via 169.254.1.1 dev eth1');
    const show = await ctl('container', server.name, 'endpoint', 'show');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(server.id);
    expect(show.stdout).toMatch(/\|\s+docker\s+\|/);
  });

  it("polices real connections by the profiles set with 'container <C> profile set'", async () => {
    const serverIp = (await addresses(server))[0]?.split('/')[0] as string;
    // No profile yet: the endpoints' chains drop everything.
    expect(await settles(client, serverIp, 8080, false)).toBe(false);
    await ok(['profile', 'add', 'ctr-clients'], 'Created profile ctr-clients\n');
    await ok(['profile', 'add', 'ctr-servers'], 'Created profile ctr-servers\n');
    await ok(['profile', 'ctr-servers', 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', 'ctr-clients', 'to', 'ports', '8080']);
    await ok(['container', client.name, 'profile', 'set', 'ctr-clients'], 'Profile(s) set to ctr-clients.\n');
    await ok(['container', server.name, 'profile', 'set', 'ctr-servers'], 'Profile(s) set to ctr-servers.\n');
    expect(await settles(client, serverIp, 8080, true)).toBe(true);
    expect(await connects(client, serverIp, 3306)).toBe(false);
    // The rule names only the client's tag: the server cannot open connections to the client.
    expect(await connects(server, '10.67.0.10', 8080)).toBe(false);
    expect((await ctl('container', server.name, 'profile', 'show')).stdout).toContain('ctr-servers');
  });

  it("a container on Docker's bridge gets an extra Calico interface, named by --interface", async () => {
    await ok(['container', 'add', bridged.name, '10.67.0.30', '--interface=cali7'], `IP 10.67.0.30 added to ${bridged.name}\n`);
    await ok(['container', bridged.name, 'profile', 'set', 'ctr-clients'], 'Profile(s) set to ctr-clients.\n');
    expect(await addresses(bridged, 'cali7')).toEqual(['10.67.0.30/32']);
    expect((await docker('exec', bridged.name, 'ip', 'link', 'show', 'eth0')).code).toBe(0);
    const serverIp = (await addresses(server))[0]?.split('/')[0] as string;
    expect(await settles(bridged, serverIp, 8080, true)).toBe(true);
    await ok(['container', 'remove', bridged.name], `Removed Calico from ${bridged.name}\n`);
    expect((await docker('exec', bridged.name, 'ip', 'link', 'show', 'cali7')).code).not.toBe(0);
  });

  it('adds and removes a second address: routed and policed while it is there, free afterwards', async () => {
    await ok(['container', server.name, 'ip', 'add', '10.67.0.20'], `IP 10.67.0.20 added to ${server.name}\n`);
    expect(await addresses(server)).toContain('10.67.0.20/32');
    expect(await settles(client, '10.67.0.20', 8080, true)).toBe(true);
    expect(await connects(client, '10.67.0.20', 3306)).toBe(false);
    expect((await ctl('container', server.name, 'endpoint', 'show')).stdout).toContain('10.67.0.20/32');
    await ok(['container', server.name, 'ip', 'remove', '10.67.0.20'], `IP 10.67.0.20 removed from ${server.name}\n`);
    expect(await addresses(server)).not.toContain('10.67.0.20/32');
    expect(await ctl('ipam', 'info', '10.67.0.20')).toEqual({ code: 1, stdout: '', stderr: 'IP 10.67.0.20 is not currently assigned\n' });
    expect(await settles(client, '10.67.0.20', 8080, false)).toBe(false);
  });

  it('networks a namespace named by its path (orchestrator namespace), policed like a container, and removes it', async () => {
    const ns = uniqueName('ctr-ns');
    namespaces.push(ns);
    expect(await sh('ip', 'netns', 'add', ns)).toMatchObject({ code: 0 });
    const path = `/var/run/netns/${ns}`;
    const prefix = `/calico/v1/host/${HOSTNAME}/workload/namespace/${path.replace(/\//g, '-')}/`;
    await ok(['container', 'add', path, '10.67.0.50'], `IP 10.67.0.50 added to ${path}\n`);
    expect((await etcdctl(etcd, 'get', '--prefix', '--keys-only', prefix)).split('\n').filter(Boolean)).toEqual([expect.stringMatching(/\/endpoint\/[0-9a-f]{32}$/)]);
    expect((await sh('ip', '-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'eth1')).stdout).toContain('inet 10.67.0.50/32');
    const serverIp = (await addresses(server))[0]?.split('/')[0] as string;
    const fromNs = async (port: number) =>
      (await sh('ip', 'netns', 'exec', ns, 'busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 ${serverIp} ${port}`)).stdout.includes('200 OK');
    // No profile yet: dropped; with the clients' profile, the servers' rule lets it in on 8080 only.
    expect(await settlesAs(() => fromNs(8080), false)).toBe(false);
    await ok(['container', path, 'profile', 'set', 'ctr-clients'], 'Profile(s) set to ctr-clients.\n');
    expect(await settlesAs(() => fromNs(8080), true)).toBe(true);
    expect(await fromNs(3306)).toBe(false);
    await ok(['container', 'remove', path], `Removed Calico from ${path}\n`);
    expect((await sh('ip', '-n', ns, 'link', 'show', 'eth1')).code).not.toBe(0);
    expect(await etcdctl(etcd, 'get', '--prefix', '--keys-only', prefix)).toBe('');
    expect(await ctl('ipam', 'info', '10.67.0.50')).toEqual({ code: 1, stdout: '', stderr: 'IP 10.67.0.50 is not currently assigned\n' });
  });

  it('refuses in one line, and leaves etcd and the container as they were', async () => {
    const stopped = await run('ctr-stopped');
    expect(await docker('stop', '-t', '0', stopped.name)).toMatchObject({ code: 0 });
    const before = await etcdctl(etcd, 'get', '--prefix', '/calico/');
    const eth1 = await addresses(client);
    const links = (await sh('ip', '-o', 'link', 'show')).stdout.split('\n').length;
    const cases: [string[], string][] = [
      [['container', 'add', stopped.name, '10.67.0.40'], `${stopped.name} is not currently running.`],
      [['container', 'add', 'no-such-container-here', '10.67.0.40'], 'Container no-such-container-here was not found.'],
      [['container', 'add', client.name, '10.67.0.40'], `${client.name} has already been configured with Calico Networking.`],
      [['container', client.name, 'ip', 'add', '10.67.0.10'], 'IP address 10.67.0.10 is already assigned.'],
      [['container', client.name, 'ip', 'add', '10.99.0.1'], '10.99.0.1 is not in any Calico IP pool.'],
      [['container', client.name, 'ip', 'add', '10.67.0.41', '--interface=eth7'], `Interface eth7 does not exist in ${client.name}.`],
      [['container', client.name, 'ip', 'add', '10.99.0.0/16'], 'Invalid CIDR specified for desired pool. No pool found for 10.99.0.0/16.'],
      [['container', client.name, 'ip', 'remove', '10.67.0.99'], `IP address 10.67.0.99 is not assigned to ${client.name}.`],
      // The wrong family: this file has no IPv6 pool.
      [['container', client.name, 'ip', 'add', 'ipv6'], "No IPv6 pool to assign an address from: add one with 'calicoctl pool add'."],
      [['container', client.name, 'ip', 'add', 'fd67::1'], 'fd67::1 is not in any Calico IP pool.'],
    ];
    for (const [args, message] of cases) expect({ args, ...(await ctl(...args)) }).toEqual({ args, code: 1, stdout: '', stderr: `${message}\n` });
    expect(await etcdctl(etcd, 'get', '--prefix', '/calico/')).toBe(before);
    expect(await addresses(client)).toEqual(eth1);
    expect((await sh('ip', '-o', 'link', 'show')).stdout.split('\n').length).toBe(links);
  });

  it('IPv6: namespaces get addresses from an IPv6 pool, reach each other through the host, and are policed', async () => {
    // After the refusals above, which expect no IPv6 pool. Namespaces rather than Docker's
    // containers, because Docker turns IPv6 off in a container whose networks have none.
    expect(await ctl('pool', 'add', POOL_V6)).toMatchObject({ code: 0, stderr: '' });
    const [a, b] = [uniqueName('ctr-v6a'), uniqueName('ctr-v6b')];
    namespaces.push(a, b);
    for (const ns of [a, b]) expect(await sh('ip', 'netns', 'add', ns)).toMatchObject({ code: 0 });
    const [pathA, pathB] = [`/var/run/netns/${a}`, `/var/run/netns/${b}`];
    const added = await ctl('container', 'add', pathA, 'ipv6');
    expect(added).toMatchObject({ code: 0, stdout: expect.stringMatching(/^IP fd67::[0-9a-f:]+ added to /), stderr: '' });
    const addressA = /^IP (\S+) added/.exec(added.stdout)?.[1] as string;
    await ok(['container', 'add', pathB, 'fd67::20'], `IP fd67::20 added to ${pathB}\n`);
    const ping6 = async (ns: string, to: string) => (await sh('ip', 'netns', 'exec', ns, 'busybox', 'ping6', '-c', '1', '-W', '1', to)).code === 0;
    await ok(['profile', 'ctr-servers', 'rule', 'add', 'inbound', 'allow', 'icmpv6', 'from', 'tag', 'ctr-clients']);
    await ok(['container', pathA, 'profile', 'set', 'ctr-clients'], 'Profile(s) set to ctr-clients.\n');
    await ok(['container', pathB, 'profile', 'set', 'ctr-servers'], 'Profile(s) set to ctr-servers.\n');
    // a (a client) may ping b (a server); b may not ping a: ctr-clients admits nothing.
    expect(await settlesAs(() => ping6(a, 'fd67::20'), true)).toBe(true);
    expect(await ping6(b, addressA)).toBe(false);
    expect((await sh('ip', '-6', 'route', 'show', 'fd67::20')).stdout).toMatch(/^fd67::20 dev cali[0-9a-f]{11} /);
    for (const path of [pathA, pathB]) await ok(['container', 'remove', path], `Removed Calico from ${path}\n`);
    expect(await ctl('ipam', 'info', 'fd67::20')).toEqual({ code: 1, stdout: '', stderr: 'IP fd67::20 is not currently assigned\n' });
    expect(await settlesAs(async () => (await sh('ip', '-6', 'route', 'show', 'fd67::20')).stdout === '', true, 40)).toBe(true);
  });

  it('diags --check is clean while they run, and container remove leaves no veth, address, endpoint or route behind', async () => {
    expect(await settlesAs(diagsClean, true, 40)).toBe(true);
    const veths = async () => (await sh('ip', '-o', 'link', 'show')).stdout.match(/cali[0-9a-f]{11}/g) ?? [];
    const before = await veths();
    expect(before.length).toBeGreaterThanOrEqual(2);
    for (const ctr of [client, server]) await ok(['container', 'remove', ctr.name], `Removed Calico from ${ctr.name}\n`);
    expect(await endpointKeys(client)).toEqual([]);
    expect(await endpointKeys(server)).toEqual([]);
    expect((await docker('exec', client.name, 'ip', 'link', 'show', 'eth1')).code).not.toBe(0);
    expect(await veths()).toEqual([]);
    expect(await ctl('ipam', 'info', '10.67.0.10')).toEqual({ code: 1, stdout: '', stderr: 'IP 10.67.0.10 is not currently assigned\n' });
    // The agent drops the /32 routes once the endpoints are gone.
    const hostRoutes = async () => (await sh('ip', '-4', 'route', 'show')).stdout.split('\n').filter((line) => /^10\.67\.\d+\.\d+ /.test(line));
    expect(await settlesAs(async () => (await hostRoutes()).length === 0, true, 40)).toBe(true);
    expect(await settlesAs(diagsClean, true, 40)).toBe(true);
    expect(await ctl('container', 'remove', client.name)).toEqual({ code: 1, stdout: '', stderr: `Container ${client.name} is unknown to Calico: add it with 'calicoctl container add' first.\n` });
  });
});
