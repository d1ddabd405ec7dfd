import { execFileSync } from 'child_process';
import * as os from 'os';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';

jest.setTimeout(120_000);

/**
 * The agent's etcd watch cannot always resume where it stopped: when etcd has compacted the
 * revisions the agent missed, the watch is cancelled, and the agent must take a fresh snapshot.
 * No Docker here: a synthetic local endpoint is enough for the agent to program a profile chain.
 */
const HOSTNAME = process.env.HOSTNAME || os.hostname();
const PROFILE = 'resync-p';
const CHAIN = `cali-pi-${PROFILE}`;

let etcd: EtcdServer;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
  const env = { ...etcd.env };
  for (const args of [['profile', 'add', PROFILE]]) expect((await calicoctl(args, env)).code).toBe(0);
  await etcdctl(
    etcd,
    'put',
    `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/resync1`,
    JSON.stringify({ state: 'active', name: 'caliresync1', mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [PROFILE], ipv4_nets: ['10.69.0.1/32'], ipv6_nets: [], labels: {} }),
  );
  await etcdctl(etcd, 'put', '/calico/v1/Ready', 'true');
});

afterAll(async () => {
  await agent?.stop();
  await etcdctl(etcd, 'del', '/calico/v1/config/ResyncTest').catch(() => undefined);
  await cleanupDataplane();
  await etcd?.stop();
});

const chainRules = (): string => {
  try {
    return execFileSync('iptables', ['-t', 'filter', '-S', CHAIN], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};

async function eventually(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${agent?.log().split("\n").filter((l) => !l.includes("Lost the etcd watch")).slice(-15).join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('takes a fresh snapshot when the revisions it missed were compacted', async () => {
  agent = await startAgent(etcd, ['--no-plugin']);
  await eventually(() => chainRules().includes('-A cali-pi-resync-p'), 'the profile chain');

  // etcd goes away; the agent is frozen so that it cannot reconnect before what follows...
  await etcd.kill();
  await new Promise((resolve) => setTimeout(resolve, 500));
  process.kill(agent.child.pid as number, 'SIGSTOP');
  try {
    await etcd.restart();
    // ...a change is made, and the history the agent's watch would resume from is compacted.
    // (Two writes: the watch resumes at the revision after the last it saw, which must be gone.)
    await etcdctl(etcd, 'put', '/calico/v1/config/ResyncTest', 'a');
    expect((await calicoctl(['profile', PROFILE, 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '4242'], { ...etcd.env })).code).toBe(0);
    const revision = /"revision":"?(\d+)/.exec(await etcdctl(etcd, 'get', '/calico/v1/Ready', '-w', 'json'))?.[1];
    await etcdctl(etcd, 'compact', revision as string);
  } finally {
    process.kill(agent.child.pid as number, 'SIGCONT');
  }

  // iptables -S prints multiport's --destination-ports as --dports.
  await eventually(() => chainRules().includes('--dports 4242'), 'the change made while the agent was away');
  // The agent logged it before applying, but its output reaches this process through a pipe,
  // which a loaded machine may not have drained by the time iptables shows the change.
  await eventually(() => agent?.log().includes('taking a fresh snapshot') === true, 'the fresh snapshot in the log');
  expect(agent.child.exitCode).toBeNull();
});
