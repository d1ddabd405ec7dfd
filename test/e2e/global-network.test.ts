import { CALICO_NODE } from './harness/agent';
import { importBusybox, Lab, LAB_ETCD_ENV, LAB_ETCDCTL_FLAGS, type LabHost, waitUntil } from './harness/lab';

/**
 * Networks that exist on every host: with the lab's etcd as every dockerd's cluster store, a
 * calico network made once on host 1 is one global network on all three hosts. Only host 1's
 * plugin hears CreateNetwork; the others serve their containers from what etcd holds. Without a
 * cluster store, the same lab keeps local networks. (Packets between hosts need BGP: not here.)
 */
jest.setTimeout(120_000);

const NETWORK = 'gnet';

async function startLab(hosts: number, clusterStore: boolean): Promise<Lab> {
  const lab = await Lab.start({ hosts, clusterStore });
  try {
    await Promise.all(lab.hosts.map((host) => host.startDockerd()));
    for (const host of lab.hosts) {
      host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, '--log-level', 'debug'], LAB_ETCD_ENV);
    }
    for (const host of lab.hosts) {
      await waitUntil(`calico-node on ${host.name}`, async () => host.log('calico-node').includes('Calico node started successfully'), 60_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${host.log('calico-node')}`);
      });
    }
  } catch (error) {
    await lab.stop();
    throw error;
  }
  return lab;
}

async function must(result: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await result;
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

const inspect = (host: LabHost) => host.docker('network', 'inspect', '-f', '{{.Id}} {{.Scope}} {{.Driver}}', NETWORK);

/** The agent asks its engine as it starts, and logs the scope it will answer once the engine has said. */
async function scopeLogged(hosts: readonly LabHost[], line: string): Promise<void> {
  for (const host of hosts) await waitUntil(`${host.name} logs its scope`, async () => host.log('calico-node').includes(line), 10_000);
}

/** The plugin calls a host's agent served, in order, of those named (its debug log has a line for each). */
function pluginCalls(host: LabHost, ...names: string[]): string[] {
  return [...host.log('calico-node').matchAll(/ DEBUG \/(\w+\.\w+) /g)].map((m) => m[1]!).filter((call) => names.includes(call));
}
const SETUP = ['IpamDriver.RequestPool', 'NetworkDriver.CreateNetwork', 'IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join'];
const TEARDOWN = ['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'IpamDriver.ReleaseAddress', 'IpamDriver.ReleasePool', 'NetworkDriver.DeleteNetwork'];

/** Every /calico key of the lab's etcd (values left out). */
async function calicoKeys(lab: Lab): Promise<string[]> {
  const r = await lab.inSwitch(['etcdctl', ...LAB_ETCDCTL_FLAGS, 'get', '--prefix', '--keys-only', '/calico/']);
  return r.stdout.split('\n').filter(Boolean);
}

describe('a calico network with the cluster store', () => {
  let lab: Lab;
  let hosts: LabHost[];
  let networkId: string;
  const addresses = new Map<LabHost, string>();

  beforeAll(async () => {
    lab = await startLab(3, true);
    hosts = lab.hosts;
    const image = await importBusybox(hosts[0]!);
    await Promise.all(hosts.slice(1).map((host) => importBusybox(host, image)));
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('made once on host 1, is one global network with one ID on every host', async () => {
    const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];
    await scopeLogged(hosts, 'Answering scope global: the Docker engine has the cluster store etcd://10.200.0.254:2379');
    networkId = await must(h1.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', NETWORK));
    expect(networkId).toMatch(/^[0-9a-f]{64}$/);
    for (const host of [h2, h3]) {
      await waitUntil(`${host.name} sees ${NETWORK}`, async () => (await inspect(host)).code === 0, 10_000);
    }
    for (const host of hosts) expect((await inspect(host)).stdout.trim()).toBe(`${networkId} global calico`);
    // Only the creating host's plugin was asked to create it; the profile is in the shared etcd.
    expect(h1.log('calico-node')).toContain(`Created network ${networkId} and its profile`);
    // (No gateway address: the pool's Data names the pseudo gateway already.)
    expect(pluginCalls(h1, ...SETUP)).toEqual(['IpamDriver.RequestPool', 'NetworkDriver.CreateNetwork']);
    for (const host of [h2, h3]) expect(pluginCalls(host, ...SETUP)).toEqual([]);
    expect(await lab.etcdGet(`/calico/v1/policy/profile/${networkId}/tags`)).toContain(`[\"${networkId}\"]`);
  });

  it('gives a container on each host its own address and an endpoint under its own host, with the network\'s profile', async () => {
    for (const host of hosts) {
      const run = await host.docker('run', '-d', '--init', '--net', NETWORK, '--name', `c-${host.index}`, 'lab/busybox:1', 'sleep', '600');
      if (run.code !== 0) throw new Error(`docker run on ${host.name}: ${run.stderr}\n${host.log('calico-node').split('\n').slice(-30).join('\n')}`);
      addresses.set(host, await must(host.docker('inspect', '-f', `{{.NetworkSettings.Networks.${NETWORK}.IPAddress}}`, `c-${host.index}`)));
    }
    const ips = [...addresses.values()];
    for (const ip of ips) expect(ip).toMatch(/^192\.168\.\d+\.\d+$/);
    expect(new Set(ips).size).toBe(3);
    for (const host of hosts) {
      const endpointId = await must(host.docker('inspect', '-f', `{{.NetworkSettings.Networks.${NETWORK}.EndpointID}}`, `c-${host.index}`));
      const stored = await must(lab.inSwitch(['etcdctl', ...LAB_ETCDCTL_FLAGS, 'get', '--print-value-only', `/calico/v1/host/${host.name}/workload/libnetwork/libnetwork/endpoint/${endpointId}`]));
      expect(JSON.parse(stored)).toMatchObject({ state: 'active', profile_ids: [networkId], ipv4_nets: [`${addresses.get(host)}/32`] });
      expect(await must(host.calicoctl(['ipam', 'info', addresses.get(host)!]))).toContain(`assigned to host ${host.name}`);
      // Every host's plugin heard of the nodes.
      expect(pluginCalls(host, 'NetworkDriver.DiscoverNew').length).toBeGreaterThan(0);
    }
    // The hosts that did not make the network went straight to the address, the endpoint and the join.
    for (const host of hosts.slice(1)) expect(pluginCalls(host, ...SETUP)).toEqual(['IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join']);
  });

  it('is a profile that calicoctl on host 3 finds by the network\'s name', async () => {
    const h3 = hosts[2]!;
    expect(await h3.calicoctl(['profile', NETWORK, 'rule', 'show'])).toEqual({
      code: 0,
      stdout: `Inbound rules:\n   1 allow from tag ${NETWORK}\nOutbound rules:\n   1 allow\n`,
      stderr: '',
    });
  });

  it('is still global, and still serves containers, after host 3\'s dockerd restarts', async () => {
    const h3 = hosts[2]!;
    await h3.kill('dockerd');
    await h3.startDockerd();
    expect((await inspect(h3)).stdout.trim()).toBe(`${networkId} global calico`);
    await must(h3.docker('rm', '-f', `c-${h3.index}`));
    const run = await h3.docker('run', '-d', '--init', '--net', NETWORK, '--name', `c-${h3.index}`, 'lab/busybox:1', 'sleep', '600');
    if (run.code !== 0) throw new Error(`docker run on ${h3.name}: ${run.stderr}\n${h3.log('calico-node').split('\n').slice(-30).join('\n')}`);
    addresses.set(h3, await must(h3.docker('inspect', '-f', `{{.NetworkSettings.Networks.${NETWORK}.IPAddress}}`, `c-${h3.index}`)));
    expect(new Set(addresses.values()).size).toBe(3);
  });

  it('leaves no endpoint, address or profile behind once the containers and the network are gone', async () => {
    const [h1] = hosts as [LabHost];
    for (const host of hosts) await must(host.docker('rm', '-f', `c-${host.index}`));
    await must(h1.docker('network', 'rm', NETWORK));
    for (const host of hosts) {
      await waitUntil(`${NETWORK} is gone from ${host.name}`, async () => (await inspect(host)).code !== 0, 10_000);
    }
    expect(h1.log('calico-node')).toContain(`Deleted network ${networkId} and its profile`);
    expect(pluginCalls(h1, ...TEARDOWN).slice(-2)).toEqual(['IpamDriver.ReleasePool', 'NetworkDriver.DeleteNetwork']);
    for (const host of hosts.slice(1)) {
      expect(pluginCalls(host, ...TEARDOWN).slice(-3)).toEqual(['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'IpamDriver.ReleaseAddress']);
      expect(pluginCalls(host, 'IpamDriver.ReleasePool', 'NetworkDriver.DeleteNetwork')).toEqual([]);
    }
    const left = await calicoKeys(lab);
    expect(left.filter((key) => key.includes(networkId) || key.includes('/workload/') || key.startsWith('/calico/ipam/v2/address/'))).toEqual([]);
    for (const [host, ip] of addresses) expect((await host.calicoctl(['ipam', 'info', ip])).stderr).toContain(`IP ${ip} is not currently assigned`);
  });
});

describe('an agent that starts before its engine answers', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 1, clusterStore: true });
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('answers local while the engine is down, and global once it has said it has a cluster store', async () => {
    const [h1] = lab.hosts as [LabHost];
    h1.spawn('calico-node', ['node', CALICO_NODE, '--hostname', h1.name, '--log-level', 'debug'], LAB_ETCD_ENV);
    await scopeLogged([h1], 'Cannot ask the Docker engine yet whether it has a cluster store');
    await h1.startDockerd();
    const id = await must(h1.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', NETWORK));
    expect((await inspect(h1)).stdout.trim()).toBe(`${id} global calico`);
    expect(h1.log('calico-node')).toContain('Answering scope global');
    await must(h1.docker('network', 'rm', NETWORK));
  });
});

describe('a calico network without the cluster store', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab(2, false);
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('stays local to the host that made it', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    await scopeLogged(lab.hosts, 'Answering scope local: the Docker engine has no cluster store');
    const id = await must(h1.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', NETWORK));
    expect((await inspect(h1)).stdout.trim()).toBe(`${id} local calico`);
    expect((await inspect(h2)).code).not.toBe(0);
    await must(h1.docker('network', 'rm', NETWORK));
  });
});
