import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { docker, ensureDocker, ensureTestImage } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { settlesAs } from './harness/poll';

jest.setTimeout(240_000);

/**
 * Docker Compose (Debian's docker-compose 1.29) as a real client of the plugin: networks with
 * `driver: calico` and `ipam: driver: calico`, services on them, a rule by the network's name,
 * real connections, and `docker-compose down` leaving nothing behind. The same file is the
 * README's example.
 */
const HOSTNAME = process.env.HOSTNAME || os.hostname();
const PROJECT = `ctcompose${process.pid}`;
let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let dir: string;

function compose(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker-compose', ['--project-name', PROJECT, '--file', path.join(dir, 'docker-compose.yml'), ...args], { env: { PATH: process.env.PATH, HOME: dir } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const composeFile = (image: string) => `version: "2.4"
services:
  db:
    image: ${image}
    command: ["sh", "-c", "httpd -p 3306 -h /www && httpd -p 8080 -h /www && exec sleep 86400"]
    networks: [databases]
  app:
    image: ${image}
    command: ["sleep", "86400"]
    networks: [applications]
networks:
  databases:
    driver: calico
    ipam:
      driver: calico
  applications:
    driver: calico
    ipam:
      driver: calico
`;

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  const image = await ensureTestImage();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-compose-'));
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), composeFile(image));
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.66.0.0-16', JSON.stringify({ cidr: '10.66.0.0/16' }));
  agent = await startAgent(etcd);
});

afterAll(async () => {
  if (dir) await compose('down', '--timeout', '1');
  await agent?.stop();
  await cleanupDataplane();
  await etcd?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function reachable(port: number, ip: string): Promise<boolean> {
  const result = await compose('exec', '-T', 'app', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ip} ${port}`);
  return result.stdout.includes('200 OK');
}

const eventually = (check: () => Promise<boolean>, want: boolean) => settlesAs(check, want, 20, 250);

describe('docker-compose with calico networks', () => {
  it('brings the services up on their networks, applies the rules by network name, and comes down clean', async () => {
    const up = await compose('up', '--detach');
    if (up.code !== 0) throw new Error(`docker-compose up: ${up.stderr}\n${agent?.log().slice(-3000)}`);
    const databases = `${PROJECT}_databases`;
    const applications = `${PROJECT}_applications`;

    const ip = (await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${databases}").IPAddress}}`, `${PROJECT}_db_1`)).stdout.trim();
    expect(ip).toMatch(/^10\.66\./);
    // Each network is a profile that calicoctl finds by the name Compose gave it.
    expect((await calicoctl(['profile', databases, 'rule', 'show'], etcd.env)).stdout).toBe(`Inbound rules:\n   1 allow from tag ${databases}\nOutbound rules:\n   1 allow\n`);
    const endpoints = await etcdctl(etcd, 'get', '--prefix', '--keys-only', `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/`);
    expect(endpoints.split('\n').filter(Boolean)).toHaveLength(2);

    expect(await eventually(() => reachable(3306, ip), false)).toBe(false);
    const rule = await calicoctl(['profile', databases, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', applications, 'to', 'ports', '3306'], etcd.env);
    expect(rule).toMatchObject({ code: 0, stderr: '' });
    expect(await eventually(() => reachable(3306, ip), true)).toBe(true);
    expect(await reachable(8080, ip)).toBe(false);

    const down = await compose('down', '--timeout', '1');
    expect(down.code).toBe(0);
    // Nothing left: no endpoint, no assigned address, no profile, no network.
    expect((await etcdctl(etcd, 'get', '--prefix', '--keys-only', `/calico/v1/host/${HOSTNAME}/workload/`)).trim()).toBe('');
    expect((await etcdctl(etcd, 'get', '--prefix', '--keys-only', '/calico/v1/policy/profile/')).trim()).toBe('');
    const info = await calicoctl(['ipam', 'info', ip], etcd.env);
    expect(info.stdout + info.stderr).toContain('not currently assigned');
    expect((await docker('network', 'ls', '--filter', `name=${PROJECT}`, '-q')).stdout.trim()).toBe('');
  });
});
