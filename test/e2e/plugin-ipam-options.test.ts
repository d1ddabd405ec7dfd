import { SERVE_SOURCE, sourceSeen, startCalicoLab } from './harness/calico-lab';
import { type Lab, LAB_ETCD, type LabHost } from './harness/lab';

jest.setTimeout(300_000);

/**
 * What `docker network create` and `docker run` may ask of the plugin besides the plain case, with
 * real containers and packets in the lab (its own namespaces, no lock): Docker's own IPAM on a
 * calico network (v0.23's Python plugin took it), `--subnet` equal to a Calico pool, and
 * `docker run --ip` with an address inside this host's blocks and one outside them.
 */
const DOCKER_SUBNET = '10.77.0.0/16';
const CALICO_POOL = '10.78.0.0/16';

describe('the plugin with Docker IPAM, --subnet and --ip', () => {
  let lab: Lab;
  let host: LabHost;

  const must = async (result: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<string> => {
    const r = await result;
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}\n${host.log('calico-node').split('\n').slice(-20).join('\n')}`);
    return r.stdout.trim();
  };
  const etcdValue = async (key: string) => (await lab.inSwitch(['etcdctl', `--endpoints=${LAB_ETCD}`, 'get', '--print-value-only', key])).stdout.trim();
  const run = async (name: string, network: string, ...extra: string[]) => {
    await must(host.docker('run', '-d', '--init', '--net', network, '--name', name, ...extra, 'lab/busybox:1', 'sh', '-c', SERVE_SOURCE), `docker run ${name}`);
    return must(host.docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name), `inspect ${name}`);
  };
  const pings = async (container: string, ip: string) => {
    for (let i = 0; i < 20; i++) {
      if ((await host.docker('exec', container, 'ping', '-c', '1', '-W', '1', ip)).code === 0) return true;
    }
    return false;
  };
  const source = (container: string, ip: string) => sourceSeen(host, container, ip, 8000);

  beforeAll(async () => {
    lab = await startCalicoLab({ hosts: 1 });
    host = lab.hosts[0]!;
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it("Docker's default IPAM: an ipam-false pool with the --opt flags, Docker's addresses, packets, and the pool gone with the network", async () => {
    await must(host.docker('network', 'create', '--driver', 'calico', '--subnet', DOCKER_SUBNET, '--opt', 'nat-outgoing=true', '--opt', 'ipip=true', 'dnet'), 'network create dnet');
    expect(JSON.parse(await etcdValue('/calico/v1/ipam/v4/pool/10.77.0.0-16'))).toEqual({ cidr: DOCKER_SUBNET, ipip: 'tunl0', masquerade: true, ipam: false });
    const shown = await must(host.calicoctl(['pool', 'show', '--ipv4']), 'pool show');
    expect(shown).toMatch(/10\.77\.0\.0\/16\s*\|\s*ipip,nat-outgoing/);

    const a = await run('d1', 'dnet');
    const b = await run('d2', 'dnet');
    // Docker's IPAM numbers them (10.77.0.1 is its gateway), and no Calico block was taken.
    expect(a).toMatch(/^10\.77\.0\.\d+$/);
    expect(b).toMatch(/^10\.77\.0\.\d+$/);
    expect(await etcdValue('/calico/ipam/v2/assignment/ipv4/block/10.77.0.0-26')).toBe('');
    expect(await pings('d1', b)).toBe(true);
    expect(await source('d2', a)).toBe(b);

    await must(host.docker('rm', '-f', 'd1', 'd2'), 'rm');
    await must(host.docker('network', 'rm', 'dnet'), 'network rm');
    expect(await etcdValue('/calico/v1/ipam/v4/pool/10.77.0.0-16')).toBe('');
  });

  it('--subnet equal to a Calico pool, and --ip inside and outside this host’s blocks', async () => {
    await must(host.calicoctl(['pool', 'add', CALICO_POOL]), 'pool add');
    await must(host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--subnet', CALICO_POOL, 'cnet'), 'network create cnet');
    const auto = await run('c1', 'cnet');
    expect(auto).toMatch(/^10\.78\./);
    const [x, y, z, w] = auto.split('.').map(Number) as [number, number, number, number];
    const inside = `${x}.${y}.${z}.${w - (w % 64) + ((w % 64) + 30) % 64}`;
    // A block no host holds: the address is borrowed, and routed on its own.
    const outside = z === 200 ? '10.78.201.10' : '10.78.200.10';

    expect(await run('c2', 'cnet', '--ip', inside)).toBe(inside);
    expect(await run('c3', 'cnet', '--ip', outside)).toBe(outside);
    for (const target of [inside, outside]) {
      expect(await pings('c1', target)).toBe(true);
      expect(await source('c1', target)).toBe(auto);
    }
    expect(await source('c2', outside)).toBe(inside);
    expect(await source('c3', auto)).toBe(outside);
    // An address someone holds is refused, with the plugin's words.
    const taken = await host.docker('run', '-d', '--net', 'cnet', '--ip', inside, '--name', 'c4', 'lab/busybox:1', 'sleep', '60');
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/already|assigned|in use/i);

    await must(host.docker('rm', '-f', 'c1', 'c2', 'c3'), 'rm');
    await host.docker('rm', '-f', 'c4');
    await must(host.docker('network', 'rm', 'cnet'), 'network rm');
    // The Calico pool the network named is the operator's, and stays.
    expect(JSON.parse(await etcdValue('/calico/v1/ipam/v4/pool/10.78.0.0-16'))).toEqual({ cidr: CALICO_POOL });
  });
});
