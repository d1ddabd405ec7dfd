import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';

jest.setTimeout(120_000);

/**
 * calico-node with ETCD_ENDPOINTS whose first member is down (a closed local port) and whose
 * second is a real etcd: it starts, and what is written through the live member reaches it.
 */
let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let socketDir: string;

/** A local port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  etcd = await startEtcd();
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-failover-'));
});

afterAll(async () => {
  await agent?.stop();
  await cleanupDataplane();
  await etcd?.stop();
  fs.rmSync(socketDir, { recursive: true, force: true });
});

it('starts and follows etcd when the first endpoint is down and the next is up', async () => {
  const endpoints = `http://127.0.0.1:${await closedPort()},${etcd.env.ETCD_ENDPOINTS}`;
  await etcdctl(etcd, 'put', '/calico/v1/Ready', 'true');
  agent = await startAgent(etcd, ['--socket', path.join(socketDir, 'calico.sock')], { ETCD_ENDPOINTS: endpoints, ETCD_TIMEOUT: '2s' });
  expect(agent.log()).not.toContain('Cannot reach etcd');
  // The CLI, given the same list, writes through the live member; the agent programs the new pool's blackhole route.
  expect((await calicoctl(['pool', 'add', '10.72.0.0/16'], { ...etcd.env, ETCD_ENDPOINTS: endpoints })).code).toBe(0);
  const blackholes = () => execFileSync('ip', ['-4', 'route', 'show', 'type', 'blackhole'], { encoding: 'utf8' });
  const deadline = Date.now() + 20_000;
  while (!blackholes().includes('10.72.0.0/16')) {
    if (Date.now() > deadline) throw new Error(`the agent never programmed the new pool:\n${agent.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(agent.child.exitCode).toBeNull();
});
