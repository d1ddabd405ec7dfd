import { execFile, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { profileChain } from '../../src/agent/dataplane/contract';
import { CALICO_NODE, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl, cleanEnv } from './harness/cli';
import { etcdctl, type EtcdServer, makeBadCerts, startEtcd } from './harness/etcd';

jest.setTimeout(180_000);

/**
 * etcd with mutual TLS and username/password auth, for the CLI and the agent alike. A wrong CA,
 * an expired certificate, a missing key file, a bad password and plain HTTP while a CA is
 * configured each get one line that names the file or the setting to fix, and exit 1; the agent
 * does not retry what no retry can fix.
 */
const HOST = 'tls-auth-host';
const PROFILE = 'tlsdb';

let etcd: EtcdServer;
let bad: Awaited<ReturnType<typeof makeBadCerts>>;
let stateDir: string;

beforeAll(async () => {
  etcd = await startEtcd({ tls: true, auth: { username: 'calico', password: 'a b "c" \'d\'' } });
  bad = await makeBadCerts(etcd);
  stateDir = mkdtempSync(join(tmpdir(), 'calico-tls-state-'));
});

afterAll(async () => {
  await etcd?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** calico-node until it exits (it must, on a setting that no retry can fix), with its output. */
function agentExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(CALICO_NODE, ['--hostname', HOST, '--backend', 'none', '--no-plugin', '--state-dir', stateDir], { env: cleanEnv({ NO_DEFAULT_POOLS: 'true', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('over mutual TLS with a username and password', () => {
  it('runs the commands, and the agent syncs and follows changes', async () => {
    const ctl = (...args: string[]) => calicoctl(args, etcd.env);
    expect(await ctl('profile', 'add', PROFILE)).toMatchObject({ code: 0, stderr: '' });
    expect(await ctl('profile', PROFILE, 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '4001')).toMatchObject({ code: 0, stderr: '' });
    expect((await ctl('profile', PROFILE, 'rule', 'show')).stdout).toContain('allow tcp to ports 4001');
    // A local endpoint using the profile, so that the agent renders its chains (no traffic is sent).
    await etcdctl(etcd, 'put', `/calico/v1/host/${HOST}/workload/docker/w1/endpoint/e1`, JSON.stringify({ state: 'active', name: 'calitlsauth01', mac: 'ee:ee:ee:ee:ee:01', profile_ids: [PROFILE], ipv4_nets: ['10.96.0.1/32'], ipv6_nets: [] }));

    const agent = await startAgent(etcd, ['--hostname', HOST, '--backend', 'none', '--no-plugin', '--state-dir', stateDir]);
    try {
      const chain = () => new Promise<string>((resolve) => execFile('iptables', ['-S', profileChain(PROFILE, 'inbound')], (error, stdout) => resolve(error ? '' : stdout)));
      const waitFor = async (port: string) => {
        const deadline = Date.now() + 30_000;
        while (!(await chain()).includes(`--dports ${port}`)) {
          if (Date.now() > deadline) throw new Error(`port ${port} never reached the kernel:\n${agent.log()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      await waitFor('4001');
      expect(await ctl('profile', PROFILE, 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '4002')).toMatchObject({ code: 0 });
      await waitFor('4002');
      // The password is in the agent's environment, never in what it logs.
      expect(agent.log()).not.toContain('"c"');
    } finally {
      await agent.stop();
      await cleanupDataplane();
    }
  });
});

describe('a setting that cannot work gets one line naming it, and exit 1', () => {
  const cases: [string, () => Record<string, string>, RegExp][] = [
    ['a CA that did not sign the server', () => ({ ETCD_CA_CERT_FILE: bad.otherCa }), /ETCD_CA_CERT_FILE/],
    ['an expired client certificate', () => ({ ETCD_CERT_FILE: bad.expiredCert, ETCD_KEY_FILE: bad.expiredKey }), /ETCD_CERT_FILE/],
    ['a missing key file', () => ({ ETCD_KEY_FILE: join(stateDir, 'no-such.key') }), /ETCD_KEY_FILE.*no-such\.key/],
    ['a bad password', () => ({ ETCD_PASSWORD: 'wrong' }), /ETCD_PASSWORD/],
    ['a bad username', () => ({ ETCD_USERNAME: 'nobody' }), /ETCD_USERNAME/],
    ['plain HTTP while a CA is configured', () => ({ ETCD_ENDPOINTS: etcd.endpoint.replace('https:', 'http:') }), /http:\/\/.*ETCD_CA_CERT_FILE|ETCD_CA_CERT_FILE.*http:\/\//],
  ];

  it.each(cases)('calicoctl, given %s', async (_what, settings, names) => {
    const result = await calicoctl(['profile', 'show'], { ...etcd.env, ...settings() });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(names);
  });

  it.each(cases)('calico-node, given %s', async (_what, settings, names) => {
    const { code, output } = await agentExit({ ...etcd.env, ...settings() });
    expect(code).toBe(1);
    const errors = output.split('\n').filter((line) => / (ERROR|FATAL) /.test(line) || (line.trim() !== '' && !/^\S+ (INFO|DEBUG|WARNING) /.test(line)));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(names);
  });
});
