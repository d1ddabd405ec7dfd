import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { CALICO_NODE } from './harness/agent';
import { importBusybox, Lab, LAB_ETCD_ENV, LAB_ETCDCTL_FLAGS, waitUntil } from './harness/lab';

/**
 * The simulated cluster itself: hosts that are really apart (their own engine, hostname, plugin
 * socket and kernel tables), one etcd they all reach, and nothing left behind.
 */
jest.setTimeout(120_000);

describe('the multi-host lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 2 });
    await Promise.all(lab.hosts.map((host) => host.startDockerd()));
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('gives each host its own engine, hostname and address', async () => {
    const [h1, h2] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const info = await Promise.all([h1, h2].map(async (h) => (await h.docker('info', '--format', '{{.ID}} {{.Name}}')).stdout.trim()));
    expect(info[0]).not.toEqual(info[1]);
    expect(info[0]).toMatch(new RegExp(` ${h1.name}$`));
    expect((await h2.exec(['hostname'])).stdout.trim()).toBe(h2.name);
    expect((await h1.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`${h1.ip}/24`);
    // The hosts reach each other and etcd, over the lab's switch.
    const pinged = await h1.exec(['busybox', 'ping', '-c', '1', '-W', '2', h2.ip]);
    expect(pinged).toMatchObject({ code: 0 });
    expect(await h2.exec(['etcdctl', ...LAB_ETCDCTL_FLAGS, 'endpoint', 'health'])).toMatchObject({ code: 0 });
  });

  it('runs calico-node on each host, whose plugin each engine uses', async () => {
    for (const host of lab.hosts) {
      host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, '--log-level', 'debug'], LAB_ETCD_ENV);
    }
    for (const host of lab.hosts) {
      await waitUntil(`calico-node on ${host.name}`, async () => host.log('calico-node').includes('Calico node started successfully'), 60_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${host.log('calico-node')}`);
      });
    }
    const [h1, h2] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const image = await importBusybox(h1);
    expect((await h1.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'labnet')).code).toBe(0);
    const run = await h1.docker('run', '-d', '--init', '--net', 'labnet', '--name', 'c1', image, 'sleep', '600');
    expect(run.stderr).toBe('');
    const ip = (await h1.docker('inspect', '-f', '{{.NetworkSettings.Networks.labnet.IPAddress}}', 'c1')).stdout.trim();
    expect(ip).toMatch(/^192\.168\./);
    // The endpoint is in the shared etcd under host 1, and calicoctl on host 2 sees it.
    const show = await h2.calicoctl(['endpoint', 'show', '--detailed']);
    expect(show.stdout).toContain(h1.name);
    expect(show.stdout).toContain(`${ip}/32`);
    // Host 1's kernel has the endpoint's chains; host 2's and the machine's own do not.
    await waitUntil('host 1 programs the endpoint', async () => (await h1.exec(['iptables-save', '-t', 'filter'])).stdout.includes('cali-from-'), 20_000);
    expect((await h2.exec(['iptables-save', '-t', 'filter'])).stdout).not.toContain('cali-from-');
    await h1.docker('rm', '-f', 'c1');
    expect((await h1.docker('network', 'rm', 'labnet')).code).toBe(0);
  });

  it('leaves the machine\'s own namespace untouched, and removes everything on stop', async () => {
    // Other tests may program the machine's own tables meanwhile; nothing of the lab's is there.
    expect(execFileSync('ip', ['-4', 'addr']).toString()).not.toContain('10.200.0.');
    expect(execFileSync('ip', ['route']).toString()).not.toContain('10.200.0.');
    expect(execFileSync('iptables-save').toString()).not.toContain(lab.prefix);
    const prefix = lab.prefix;
    const dir = lab.dir;
    await lab.stop();
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(prefix);
    expect(fs.existsSync(dir)).toBe(false);
  }, 120_000);
});
