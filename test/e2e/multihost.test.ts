import { CALICO_NODE } from './harness/agent';
import { importBusybox, Lab, LAB_ETCD, type LabHost, waitUntil } from './harness/lab';

jest.setTimeout(180_000);

/**
 * Many hosts, one network: calico-node with BIRD on each of three lab hosts, routes exchanged over
 * BGP, and containers on different hosts reaching each other by plain routing.
 */
describe('containers on three hosts, routed by BGP', () => {
  let lab: Lab;
  let image: string;

  const startNode = async (host: LabHost, extra: string[] = []) => {
    host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, `--ip=${host.ip}`, `--ip6=${host.ip6}`, ...extra], { ETCD_ENDPOINTS: LAB_ETCD });
    await waitUntil(`calico-node on ${host.name}`, async () => host.log('calico-node').includes('Calico node started successfully'), 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${host.log('calico-node')}`);
    });
  };

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 3 });
    await Promise.all(lab.hosts.map((host) => host.startDockerd()));
    for (const host of lab.hosts) {
      image = await importBusybox(host);
      await startNode(host);
    }
  });

  afterAll(async () => {
    await lab?.stop();
  });

  const bgpEstablished = (host: LabHost) =>
    waitUntil(`${host.name}'s BGP sessions`, async () => ((await host.exec(['birdc', '-s', '/run/calico/bird.ctl', 'show', 'protocols'])).stdout.match(/Established/g) ?? []).length === lab.hosts.length - 1, 30_000);

  it('meshes every node with every other over BGP', async () => {
    for (const host of lab.hosts) await bgpEstablished(host);
  });

  it('routes a container on one host to a container on another', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const ips: string[] = [];
    for (const host of [h1, h2, h3]) {
      expect((await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'net1')).code).toBe(0);
      // Networks are per host here (no cluster store): let the other hosts' containers in by address.
      const network = (await host.docker('network', 'inspect', '-f', '{{.Id}}', 'net1')).stdout.trim();
      expect((await host.calicoctl(['profile', network, 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', '192.168.0.0/16'])).code).toBe(0);
      const run = await host.docker('run', '-d', '--init', '--net', 'net1', '--name', `c${host.index}`, image, 'sleep', '600');
      expect(run.code).toBe(0);
      ips.push((await host.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', `c${host.index}`)).stdout.trim());
    }
    for (const [i, from] of [h1, h2, h3].entries()) {
      for (const [j, ip] of ips.entries()) {
        if (i === j) continue;
        await waitUntil(`c${from.index} -> ${ip}`, async () => (await from.docker('exec', `c${from.index}`, 'ping', '-c', '1', '-W', '1', ip as string)).code === 0, 20_000);
      }
    }
  });
});
