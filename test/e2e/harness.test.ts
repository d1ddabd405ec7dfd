import * as fs from 'fs';
import { startEtcd, etcdctl } from './harness/etcd';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, uniqueName } from './harness/docker';

jest.setTimeout(120_000);

describe('etcd harness', () => {
  it('starts plain etcd, stores a key, and removes its data dir on stop', async () => {
    const etcd = await startEtcd();
    try {
      expect(etcd.endpoint).toBe(`http://127.0.0.1:${etcd.clientPort}`);
      expect(etcd.env.ETCD_ENDPOINTS).toBe(etcd.endpoint);
      await etcdctl(etcd, 'put', '/calico/test', 'v1');
      expect((await etcdctl(etcd, 'get', '--print-value-only', '/calico/test')).trim()).toBe('v1');
      await etcd.kill();
      await etcd.restart();
      expect((await etcdctl(etcd, 'get', '--print-value-only', '/calico/test')).trim()).toBe('v1');
    } finally {
      await etcd.stop();
    }
    expect(fs.existsSync(etcd.dataDir)).toBe(false);
  });

  it('starts TLS etcd that requires the client certificate', async () => {
    const etcd = await startEtcd({ tls: true });
    try {
      expect(etcd.endpoint).toBe(`https://127.0.0.1:${etcd.clientPort}`);
      expect(etcd.env).toMatchObject({
        ETCD_CA_CERT_FILE: etcd.certs!.ca, ETCD_CERT_FILE: etcd.certs!.cert, ETCD_KEY_FILE: etcd.certs!.key,
      });
      await etcdctl(etcd, 'put', 'k', 'tls-value');
      expect((await etcdctl(etcd, 'get', '--print-value-only', 'k')).trim()).toBe('tls-value');
      const noCert = { ...etcd, certs: undefined, endpoint: etcd.endpoint };
      await expect(etcdctl(noCert, '--dial-timeout=500ms', '--command-timeout=1s', 'get', 'k')).rejects.toThrow();
    } finally {
      await etcd.stop();
    }
    expect(fs.existsSync(etcd.dataDir)).toBe(false);
  });

  it('enables auth when asked', async () => {
    const etcd = await startEtcd({ auth: { username: 'root', password: 's3cret' } });
    try {
      expect(etcd.env).toMatchObject({ ETCD_USERNAME: 'root', ETCD_PASSWORD: 's3cret' });
      await etcdctl(etcd, 'put', 'a', 'b');
      const anonymous = { ...etcd, auth: undefined };
      await expect(etcdctl(anonymous, 'get', 'a')).rejects.toThrow(/user name is empty|permission denied/);
    } finally {
      await etcd.stop();
    }
  });
});

describe('docker harness', () => {
  const net = uniqueName('harness');

  afterAll(() => cleanupDocker({ networks: [net], containers: [uniqueName('absent')] }));

  it('runs a container from the busybox test image', async () => {
    await ensureDocker();
    const image = await ensureTestImage();
    const r = await docker('run', '--rm', image, 'busybox', 'echo', 'hi');
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' });
  });

  it('creates and removes a bridge network', async () => {
    await ensureDocker();
    expect((await docker('network', 'create', '--driver', 'bridge', net)).code).toBe(0);
    expect((await docker('network', 'inspect', net)).code).toBe(0);
    await cleanupDocker({ networks: [net] });
    expect((await docker('network', 'inspect', net)).code).not.toBe(0);
  });
});
