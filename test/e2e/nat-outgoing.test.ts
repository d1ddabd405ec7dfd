import { type ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { SERVE_SOURCE, SOURCE_CGI, sourceSeen, startCalicoLab } from './harness/calico-lab';
import { type Lab, type LabHost, waitUntil } from './harness/lab';

jest.setTimeout(300_000);

/**
 * `pool add --nat-outgoing` with real packets, in the lab (its own namespaces, no lock). "Outside"
 * is a namespace of this test's own, joined to the lab host by a veth pair in 10.201.0.0/30,
 * which is in no pool; it can route back to the pools, so that a connection it sees un-NATed still
 * completes. Every listener is busybox httpd with a CGI script that answers with REMOTE_ADDR: what
 * the listener saw as the source.
 */
const NAT_POOL = '10.65.0.0/16';
const PLAIN_POOL = '10.66.0.0/16';
const HOST_SIDE = '10.201.0.1';
const OUTSIDE = '10.201.0.2';
const PORT = 7000;

describe('outgoing NAT: pools with --nat-outgoing are masqueraded to the host, and only to outside every pool', () => {
  let lab: Lab;
  let host: LabHost;
  let outsideNs: string;
  let listener: ChildProcess | undefined;
  const address = new Map<string, string>();

  const must = async (result: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<string> => {
    const r = await result;
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  const ns = (...args: string[]) => must(host.execNet(['ip', ...args]), `ip ${args.join(' ')}`);
  const outside = (...args: string[]) => must(host.execNet(['ip', 'netns', 'exec', outsideNs, ...args]), args.join(' '));
  const calicoctl = (...args: string[]) => must(host.calicoctl(args), `calicoctl ${args.join(' ')}`);

  const settledSource = (container: string, ip: string, port: number, expected: string) => sourceSeen(host, container, ip, port, expected);
  const run = async (name: string, network: string) => {
    await must(host.docker('run', '-d', '--init', '--net', network, '--name', name, 'lab/busybox:1', 'sh', '-c', SERVE_SOURCE), `docker run ${name}`);
    address.set(name, await must(host.docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name), `inspect ${name}`));
  };

  beforeAll(async () => {
    lab = await startCalicoLab({ hosts: 1 });
    host = lab.hosts[0]!;
    outsideNs = `${lab.prefix}out`;
    // The outside: its own namespace, a veth to the lab host, and a listener that reports sources.
    await must(host.execNet(['ip', 'netns', 'add', outsideNs]), 'netns add');
    await ns('link', 'add', 'natout', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outsideNs);
    await ns('addr', 'add', `${HOST_SIDE}/30`, 'dev', 'natout');
    await ns('link', 'set', 'natout', 'up');
    await outside('ip', 'addr', 'add', `${OUTSIDE}/30`, 'dev', 'eth0');
    await outside('ip', 'link', 'set', 'eth0', 'up');
    await outside('ip', 'link', 'set', 'lo', 'up');
    await outside('ip', 'route', 'add', '10.64.0.0/14', 'via', HOST_SIDE);
    const root = path.join(lab.dir, 'outside-www');
    fs.mkdirSync(path.join(root, 'cgi-bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'cgi-bin', 'ip'), SOURCE_CGI, { mode: 0o755 });
    listener = spawn('ip', ['netns', 'exec', outsideNs, 'busybox', 'httpd', '-f', '-p', `${OUTSIDE}:${PORT}`, '-h', root], { stdio: 'ignore' });

    await calicoctl('pool', 'add', NAT_POOL, '--nat-outgoing');
    await calicoctl('pool', 'add', PLAIN_POOL);
    // --subnet equal to a Calico pool: each network's addresses come from that pool alone.
    await must(host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--subnet', NAT_POOL, 'natnet'), 'network create natnet');
    await must(host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--subnet', PLAIN_POOL, 'plainnet'), 'network create plainnet');
    // Each network lets the other pool in, so that traffic between the pools flows.
    await calicoctl('profile', 'natnet', 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', PLAIN_POOL);
    await calicoctl('profile', 'plainnet', 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', NAT_POOL);
    await run('natted', 'natnet');
    await run('plain', 'plainnet');
    await waitUntil('the outside listener', async () => /^from /m.test((await host.execNet(['ip', 'netns', 'exec', outsideNs, 'busybox', 'wget', '-q', '-O', '-', `http://${OUTSIDE}:${PORT}/cgi-bin/ip`])).stdout), 10_000);
  });

  afterAll(async () => {
    listener?.kill('SIGKILL');
    if (host && outsideNs) await host.execNet(['ip', 'netns', 'del', outsideNs]);
    await lab?.stop();
  });

  it('gives each network addresses from the pool its --subnet named', () => {
    expect(address.get('natted')).toMatch(/^10\.65\./);
    expect(address.get('plain')).toMatch(/^10\.66\./);
  });

  it('pool show marks the pool', async () => {
    const shown = await calicoctl('pool', 'show', '--ipv4');
    expect(shown).toMatch(new RegExp(`${NAT_POOL.replace(/\./g, '\\.')}\\s*\\|\\s*nat-outgoing`));
    expect(shown).not.toMatch(new RegExp(`${PLAIN_POOL.replace(/\./g, '\\.')}\\s*\\|\\s*nat-outgoing`));
  });

  it('the outside sees the host for the --nat-outgoing pool, and the container for the other', async () => {
    expect(await settledSource('natted', OUTSIDE, PORT, HOST_SIDE)).toBe(HOST_SIDE);
    expect(await settledSource('plain', OUTSIDE, PORT, address.get('plain')!)).toBe(address.get('plain'));
    const sets = await must(host.execNet(['ipset', 'list', 'felix-masq-ipam-pools']), 'ipset list');
    expect(sets).toContain(NAT_POOL);
    expect(await must(host.execNet(['iptables', '-t', 'nat', '-S', 'POSTROUTING']), 'iptables -S')).toMatch(/^-A POSTROUTING -j cali-POSTROUTING$/m);
  });

  it('traffic between pools is never masqueraded', async () => {
    expect(await settledSource('natted', address.get('plain')!, 8000, address.get('natted')!)).toBe(address.get('natted'));
    expect(await settledSource('plain', address.get('natted')!, 8000, address.get('plain')!)).toBe(address.get('plain'));
  });

  it('re-adding the pool without the flag stops the masquerade; adding it back restarts it', async () => {
    await calicoctl('pool', 'add', NAT_POOL);
    expect(await settledSource('natted', OUTSIDE, PORT, address.get('natted')!)).toBe(address.get('natted'));
    expect((await host.execNet(['ipset', 'list', '-n'])).stdout).not.toContain('felix-masq-ipam-pools');
    expect(await must(host.execNet(['iptables', '-t', 'nat', '-S', 'cali-POSTROUTING']), 'iptables -S')).not.toContain('MASQUERADE');

    await calicoctl('pool', 'add', NAT_POOL, '--nat-outgoing');
    expect(await settledSource('natted', OUTSIDE, PORT, HOST_SIDE)).toBe(HOST_SIDE);
  });

  it('diags --check is clean with outgoing NAT, and names a NAT set that drifted from the pools', async () => {
    await waitUntil('diags --check clean', async () => (await host.calicoctl(['diags', '--check'])).code === 0, 60_000);
    // Something other than the agent empties a set: the check says what the pools want there.
    await must(host.execNet(['ipset', 'flush', 'felix-masq-ipam-pools']), 'ipset flush');
    const found = await host.calicoctl(['diags', '--check']);
    expect(found).toMatchObject({ code: 1, stdout: expect.stringContaining('ipset felix-masq-ipam-pools holds nothing; the pools say 10.65.0.0/16') });
    await must(host.execNet(['ipset', 'add', 'felix-masq-ipam-pools', NAT_POOL]), 'ipset add');
  });
});
