import { type AgentProcess, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { docker, ensureDocker, ensureTestImage, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { settlesAs } from './harness/poll';
import { tearDownHost } from './harness/teardown';

// `rule show --counts` on one host: the tutorial's databases and applications networks, the real
// calico-node programming the root namespace's iptables, and real connections from app1 to db1.
// Run under `flock /tmp/calico-host.lock` (it owns the cali chains and the plugin socket while it
// runs). Probes go only from this file's app1 to its db1, each bounded by nc -w 1.

jest.setTimeout(180_000);

let etcd: EtcdServer;
let agent: AgentProcess | undefined;
const containers: string[] = [];
const networks: string[] = [];
const CREATE_NETWORK = ['network', 'create', '--driver', 'calico', '--ipam-driver', 'calico'];

interface Counted {
  readonly profile: string;
  readonly on_this_host: boolean;
  readonly inbound: { number: number; rule: string; packets: number | null; bytes: number | null }[];
  readonly outbound: { number: number; rule: string; packets: number | null; bytes: number | null }[];
}

async function counts(profile: string): Promise<Counted> {
  const result = await calicoctl(['profile', profile, 'rule', 'show', '--counts', '-o', 'json'], etcd.env);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as Counted;
}

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.66.0.0-16', JSON.stringify({ cidr: '10.66.0.0/16' }));
  agent = await startAgent(etcd);
}, 120_000);

afterAll(() => tearDownHost({ containers, networks, agent, etcd }), 120_000);

it('counts rise on the rule that lets app1 into the databases, and only on it', async () => {
  const image = await ensureTestImage();
  const net = async (label: string) => {
    const name = uniqueName(label);
    networks.push(name);
    const created = await docker(...CREATE_NETWORK, name);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    return name;
  };
  const db = await net('databases');
  const apps = await net('applications');
  const run = async (label: string, network: string, command: string) => {
    const name = uniqueName(label);
    containers.push(name);
    expect(await docker('run', '-d', '--name', name, '--net', network, image, 'sh', '-c', command)).toMatchObject({ code: 0, stderr: '' });
    const ip = (await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name)).stdout.trim();
    expect(ip).toMatch(/^10\.66\.\d+\.\d+$/);
    return { name, ip };
  };
  const db1 = await run('db1', db, 'mkdir -p /www && echo ok > /www/index.html && httpd -p 3306 -h /www && exec sleep 86400');
  const app1 = await run('app1', apps, 'exec sleep 86400');

  const add = await calicoctl(['profile', db, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps, 'to', 'ports', '3306'], etcd.env);
  expect(add).toMatchObject({ code: 0, stderr: '' });
  // The agent renders the new rule 2 with its counter: wait for it to appear.
  expect(await settlesAs(async () => (await counts(db)).inbound[1]?.packets !== null, true, 40)).toBe(true);
  const before = await counts(db);
  expect(before).toMatchObject({ profile: db, on_this_host: true });
  expect(before.inbound.map((r) => r.rule)).toEqual([`allow from tag ${db}`, `allow tcp from tag ${apps} to ports 3306`]);

  const connect = async () => (await docker('exec', app1.name, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${db1.ip} 3306`)).stdout.includes('200 OK');
  expect(await settlesAs(connect, true)).toBe(true);
  for (let i = 0; i < 3; i++) expect(await connect()).toBe(true);

  const after = await counts(db);
  const rule2 = after.inbound[1]!;
  // At least the four connections' first packets (each SYN passes the rules; the rest are established).
  expect(rule2.packets! - before.inbound[1]!.packets!).toBeGreaterThanOrEqual(4);
  expect(rule2.bytes!).toBeGreaterThan(before.inbound[1]!.bytes!);
  // Rule 1 (db's own members) saw none of app1's packets.
  expect(after.inbound[0]!.packets).toBe(before.inbound[0]!.packets);

  // The table shows the same counter in rule show's words.
  const table = await calicoctl(['profile', db, 'rule', 'show', '--counts'], etcd.env);
  expect(table).toMatchObject({ code: 0, stderr: '' });
  const line = table.stdout.split('\n').find((l) => l.startsWith(`   2 allow tcp from tag ${apps} to ports 3306`));
  expect(line?.trim().split(/\s+/).slice(-2).map(Number)[0]).toBeGreaterThanOrEqual(rule2.packets!);

  // The applications' profile is on this host (app1 uses it); a profile no endpoint here uses is not.
  expect((await counts(apps)).on_this_host).toBe(true);
  expect(await calicoctl(['profile', 'add', 'unused-here'], etcd.env)).toMatchObject({ code: 0 });
  const unused = await calicoctl(['profile', 'unused-here', 'rule', 'show', '--counts'], etcd.env);
  expect(unused).toMatchObject({ code: 0, stderr: "No endpoint on this host uses profile unused-here: its rules are not in this host's kernel, so none has a counter.\n" });
});
