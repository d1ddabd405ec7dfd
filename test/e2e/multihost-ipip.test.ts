import { addressOf, pings, routes, runContainer, SERVERS, startCalicoLab, tcpConnects } from './harness/calico-lab';
import { type Lab, LAB_ETCD, type LabHost, waitUntil } from './harness/lab';
import { settlesAs } from './harness/poll';

jest.setTimeout(300_000);

/**
 * IPIP across two subnets: host 1 on 10.200.0.0/24, host 2 on 10.200.1.0/24, joined by a router
 * namespace that routes only host addresses (test/e2e/harness/lab.ts, `subnets: 2`). BGP peers
 * across the router, but the router drops container addresses, so without IPIP the containers
 * cannot talk. `pool add … --ipip` gives each host a tunnel address from the pool (IPAM) and
 * routes through tunl0, which carries them across as packets between the two hosts' addresses.
 *
 * The packets through tunl0 need the kernel's ipip module. A kernel built without it (probed in
 * beforeAll, in a namespace of the lab) cannot carry them: the test then proves what calico-node
 * owes such a host instead (one clear error naming `modprobe ipip`, the tunnel address still
 * assigned, BIRD still leaving the IPIP blocks to calico-node, nothing else disturbed).
 */
describe('IPIP between hosts on two subnets', () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let ipipKernel: boolean;
  const network = new Map<LabHost, string>();
  const address = new Map<LabHost, string>();
  const POOL = '192.168.0.0/16';

  const etcdGet = async (key: string) => (await lab.inSwitch(['etcdctl', `--endpoints=${LAB_ETCD}`, 'get', '--print-value-only', key])).stdout.trim();
  const tunnelAddress = (host: LabHost) => etcdGet(`/calico/v1/host/${host.name}/config/IpInIpTunnelAddr`);
  const blockOf = (ip: string) => {
    const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
    return `${a}.${b}.${c}.${d - (d % 64)}/26`;
  };
  const ctl = async (host: LabHost, ...args: string[]) => {
    const result = await host.calicoctl(args);
    if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')} on ${host.name}: ${result.stderr}`);
    return result.stdout;
  };
  /** A verdict that must hold for as long as an allowed connection would take to come up. */
  const talks = (from: LabHost, to: LabHost, port?: number) => (port === undefined ? pings(from, 'web', address.get(to)!) : tcpConnects(from, 'web', address.get(to)!, port));

  beforeAll(async () => {
    lab = await startCalicoLab({ hosts: 2, subnets: 2 });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
    const probe = await h1.exec(['ip', 'link', 'add', 'ipipprobe', 'type', 'ipip']);
    ipipKernel = probe.code === 0 || /tunl0|File exists/.test(probe.stderr);
    if (probe.code === 0) await h1.exec(['ip', 'link', 'del', 'ipipprobe']);
    for (const host of lab.hosts) {
      expect((await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'net1')).code).toBe(0);
      const id = (await host.docker('network', 'inspect', '-f', '{{.Id}}', 'net1')).stdout.trim();
      network.set(host, id);
      await ctl(host, 'profile', id, 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', POOL);
      await runContainer(host, 'web', 'net1', ['sh', '-c', SERVERS]);
      address.set(host, await addressOf(host, 'web'));
    }
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('puts the hosts on two subnets that reach each other through the router, and BGP peers across it', async () => {
    expect(h1.ip).toBe('10.200.0.1');
    expect(h2.ip).toBe('10.200.1.2');
    expect((await h1.exec(['busybox', 'ping', '-c', '1', '-W', '2', h2.ip])).code).toBe(0);
    // The router knows the two subnets and nothing else: no route to any container.
    const routerRoutes = (await lab.inRouter(['ip', '-4', 'route'])).stdout;
    expect(routerRoutes).not.toMatch(/192\.168\./);
    expect(routerRoutes).not.toMatch(/default/);
  });

  it('without IPIP, the containers on the two subnets cannot talk: the router drops container addresses', async () => {
    // BIRD learned the other block, but can only route it through the router.
    await waitUntil(`${h1.name} learns ${h2.name}'s block`, async () => (await routes(h1)).includes(`${blockOf(address.get(h2)!)} via 10.200.0.253 dev eth0 proto bird`), 20_000);
    expect(await settlesAs(() => talks(h1, h2), true, 8)).toBe(false);
    expect(await settlesAs(() => talks(h2, h1, 8080), true, 4)).toBe(false);
    expect(await tunnelAddress(h1)).toBe('');
  });

  it('pool add --ipip: each host gets a tunnel address from the pool, and BIRD leaves the pool\'s blocks of other hosts to calico-node', async () => {
    await ctl(h1, 'pool', 'add', POOL, '--ipip');
    expect(await ctl(h1, 'pool', 'show', '--ipv4')).toMatch(/192\.168\.0\.0\/16\s*\|\s*ipip/);
    expect(await etcdGet('/calico/v1/config/IpInIpEnabled')).toBe('true');
    for (const host of lab.hosts) {
      await waitUntil(`${host.name}'s tunnel address`, async () => /^192\.168\.\d+\.\d+$/.test(await tunnelAddress(host)), 20_000);
      // Assigned through IPAM for the host, so that no container gets it.
      const tunnel = await tunnelAddress(host);
      expect(await ctl(host, 'ipam', 'info', tunnel)).toContain(host.name);
      expect(tunnel).not.toBe(address.get(host));
    }
    expect(await tunnelAddress(h1)).not.toBe(await tunnelAddress(h2));
    // BIRD's own route for the other host's block (through the router) is withdrawn from the kernel.
    await waitUntil(`BIRD on ${h1.name} stops routing ${h2.name}'s block through the router`, async () => !(await routes(h1)).includes(`${blockOf(address.get(h2)!)} via 10.200.0.253 dev eth0 proto bird`), 20_000);
    // diags --check does not take the tunnel address for an orphan.
    const check = await h1.calicoctl(['diags', '--check']);
    expect(check.stdout + check.stderr).not.toMatch(/orphaned address/);
  });

  it('with IPIP the containers talk across the subnets through tunl0, and a deny rule still drops across the tunnel', async () => {
    if (!ipipKernel) {
      // This kernel cannot make an IPIP device: calico-node says so in one line, and touches nothing.
      for (const host of lab.hosts) {
        await waitUntil(`${host.name}'s calico-node reports the missing IPIP support`, async () => /IPIP: This host's kernel has no IPIP support, so tunl0 cannot be brought up .*modprobe ipip/.test(host.log('calico-node')), 20_000);
        expect((await host.exec(['ip', '-4', 'route', 'show', 'proto', '158'])).stdout).toBe('');
      }
      expect(await settlesAs(() => talks(h1, h2), true, 4)).toBe(false);
      return;
    }
    for (const [host, other] of [[h1, h2], [h2, h1]] as const) {
      const want = `${blockOf(address.get(other)!)} via ${other.ip} dev tunl0 proto 158 onlink`;
      await waitUntil(`${host.name} routes ${other.name}'s block through tunl0`, async () => (await routes(host)).includes(want), 20_000);
      const tunl0 = (await host.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'tunl0'])).stdout;
      expect(tunl0).toContain(`inet ${await tunnelAddress(host)}/32`);
    }
    expect(await settlesAs(() => talks(h1, h2), true)).toBe(true);
    expect(await settlesAs(() => talks(h2, h1), true)).toBe(true);
    expect(await settlesAs(() => talks(h1, h2, 8080), true)).toBe(true);
    expect(await settlesAs(() => talks(h1, h2, 3306), true)).toBe(true);

    // Policy applies to what comes out of the tunnel: host 2's profile denies port 8080 first.
    await ctl(h2, 'profile', network.get(h2)!, 'rule', 'add', 'inbound', '--at=1', 'deny', 'tcp', 'to', 'ports', '8080');
    expect(await settlesAs(() => talks(h1, h2, 8080), false)).toBe(false);
    expect(await settlesAs(() => talks(h1, h2, 3306), true)).toBe(true);
    await ctl(h2, 'profile', network.get(h2)!, 'rule', 'remove', 'inbound', '--at=1');
  });

  it('pool add without --ipip takes it back: the tunnel addresses are released and the tunnel routes gone', async () => {
    const tunnels = await Promise.all(lab.hosts.map(tunnelAddress));
    await ctl(h1, 'pool', 'add', POOL);
    for (const [i, host] of lab.hosts.entries()) {
      await waitUntil(`${host.name}'s tunnel address is released`, async () => (await tunnelAddress(host)) === '', 20_000);
      const info = await host.calicoctl(['ipam', 'info', tunnels[i]!]);
      expect(info.stdout + info.stderr).toMatch(/not currently assigned/);
      expect((await host.exec(['ip', '-4', 'route', 'show', 'proto', '158'])).stdout).toBe('');
    }
    // BIRD routes the other block through the router again, where it dies.
    await waitUntil(`${h1.name} routes ${h2.name}'s block through the router again`, async () => (await routes(h1)).includes(`${blockOf(address.get(h2)!)} via 10.200.0.253 dev eth0 proto bird`), 20_000);
    expect(await settlesAs(() => talks(h1, h2), true, 4)).toBe(false);
  });
});
