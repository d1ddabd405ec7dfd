import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tagSet } from '../../src/agent/dataplane/contract';
import * as keys from '../../src/datastore/keys';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';

jest.setTimeout(120_000);

/**
 * A value in etcd that does not decode is logged once, with its key, and skipped: the real agent
 * still starts, serves its plugin socket and applies everything else, and the CLI still lists the
 * rest. No Docker: synthetic local endpoints are enough for the agent to program chains.
 */
const HOSTNAME = process.env.HOSTNAME || os.hostname();
const GOOD = 'corrupt-good';
const BROKEN = 'corrupt-broken';
const endpoint = (id: string) => keys.endpointKey({ hostname: HOSTNAME, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id });
const endpointValue = (iface: string, profile: string, ip: string) =>
  JSON.stringify({ state: 'active', name: iface, mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [profile], ipv4_nets: [ip], ipv6_nets: [], labels: {} });
const BAD = {
  rules: keys.profileRules(BROKEN),
  endpoint: endpoint('corruptbad'),
  pool: '/calico/v1/ipam/v4/pool/10.71.0.0-16',
  host: keys.hostBirdIp('corrupt-other-host'),
  /** Another host's member of a tag used here, with a net the kernel's hash:net sets refuse. */
  wide: keys.endpointKey({ hostname: 'corrupt-other-host', orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: 'corruptwide' }),
};

let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let socketDir: string;

beforeAll(async () => {
  etcd = await startEtcd();
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-corrupt-'));
  for (const name of [GOOD, BROKEN]) expect((await calicoctl(['profile', 'add', name], { ...etcd.env })).code).toBe(0);
  await etcdctl(etcd, 'put', BAD.rules, '{"inbound_rules": [');
  await etcdctl(etcd, 'put', endpoint('corruptgood'), endpointValue('calicorrupt1', GOOD, '10.70.0.1/32'));
  await etcdctl(etcd, 'put', endpoint('corruptbrkn'), endpointValue('calicorrupt2', BROKEN, '10.70.0.2/32'));
  await etcdctl(etcd, 'put', BAD.endpoint, '{not json');
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.70.0.0-16', '{"cidr": "10.70.0.0/16"}');
  await etcdctl(etcd, 'put', BAD.pool, '{"cidr": "bogus"}');
  await etcdctl(etcd, 'put', BAD.host, 'not-an-address');
  await etcdctl(etcd, 'put', BAD.wide, JSON.stringify({ state: 'active', name: 'caliwide', mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [GOOD], ipv4_nets: ['0.0.0.0/0', '10.70.1.9/32'], ipv6_nets: [] }));
  await etcdctl(etcd, 'put', keys.READY, 'true');
});

afterAll(async () => {
  await agent?.stop();
  await cleanupDataplane();
  await etcd?.stop();
  fs.rmSync(socketDir, { recursive: true, force: true });
});

const chain = (name: string): string => {
  try {
    return execFileSync('iptables', ['-t', 'filter', '-S', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};
const members = (set: string): string => {
  try {
    return execFileSync('ipset', ['list', set], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};
const blackholes = (): string => execFileSync('ip', ['-4', 'route', 'show', 'type', 'blackhole'], { encoding: 'utf8' });
const about = (text: string, key: string): string[] => text.split('\n').filter((line) => line.includes(`${key} is invalid`));
const linesAbout = (key: string): string[] => about(agent?.log() ?? '', key);

async function eventually(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${agent?.log().split('\n').slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('the agent starts, serves its socket and applies everything else, logging each bad value once', async () => {
  // With default pools on, start-up lists the pools too (a bad one used to stop the agent there).
  agent = await startAgent(etcd, ['--socket', path.join(socketDir, 'calico.sock')], { NO_DEFAULT_POOLS: 'false' });
  expect(fs.existsSync(path.join(socketDir, 'calico.sock'))).toBe(true);
  await eventually(() => chain(`cali-pi-${GOOD}`).includes(`-A cali-pi-${GOOD}`), 'the good profile chain');
  await eventually(() => blackholes().includes('10.70.0.0/16'), 'the good pool\'s blackhole route');
  // The profile whose rules do not decode drops everything; its member still has its chains.
  await eventually(() => chain(`cali-pi-${BROKEN}`).includes('ERROR failed to parse rules'), 'the broken profile\'s DROP chain');
  for (const key of Object.values(BAD)) expect(linesAbout(key)).toHaveLength(1);
  expect(linesAbout(BAD.rules)[0]).toMatch(/WARNING The data stored at .* is invalid: .*; skipped: the profile drops all traffic/);
  expect(blackholes()).not.toContain('10.71.0.0');
  // The wide net is left out of the tag's set; the endpoint's host address is in it.
  await eventually(() => members(tagSet(4, GOOD)).includes('10.70.1.9'), 'the wide endpoint\'s host address in the tag set');
  expect(members(tagSet(4, GOOD))).not.toMatch(/0\.0\.0\.0/);

  // Changes keep applying after the bad values; a new bad value is logged once, and nothing else breaks.
  await etcdctl(etcd, 'put', endpoint('corruptbad2'), '[]');
  expect((await calicoctl(['profile', GOOD, 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '4343'], { ...etcd.env })).code).toBe(0);
  await eventually(() => chain(`cali-pi-${GOOD}`).includes('--dports 4343'), 'the rule added after the bad values');
  expect(linesAbout(endpoint('corruptbad2'))).toHaveLength(1);
  expect(agent.child.exitCode).toBeNull();
});

it('calicoctl endpoint show and node show list the rest, warning once about each bad value', async () => {
  for (const args of [['endpoint', 'show', '--detailed'], ['node', 'show']]) {
    const result = await calicoctl(args, { ...etcd.env });
    expect(result.code).toBe(0);
    if (args[0] === 'endpoint') {
      expect(result.stdout).toContain('corruptgood');
      expect(about(result.stderr, BAD.endpoint)).toHaveLength(1);
    } else {
      expect(result.stdout).toContain(HOSTNAME);
      expect(about(result.stderr, BAD.host)).toHaveLength(1);
    }
  }
});
