import { execFile } from 'child_process';
import * as os from 'os';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl, type CliResult } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, type RunResult, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { pluginRequest } from './harness/plugin-socket';
import { Teardown } from './harness/teardown';

// `calicoctl diags --check [--fix]` on this host against real etcd, Docker, iptables, ipset,
// routes and bin/calico-node: clean after a tutorial-like setup, each kind of inconsistency
// injected and found, the safe ones fixed. Uses the machine's Docker and root-namespace iptables:
// run under `flock /tmp/calico-host.lock`. Containers only sleep: nothing here sends traffic.

jest.setTimeout(300_000);

const SOCKET = '/run/docker/plugins/calico.sock';
const HOSTNAME = process.env.HOSTNAME || os.hostname();
const ENDPOINTS = `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/`;
const POOL_V4 = '10.65.0.0/16';
const CREATE_NETWORK = ['network', 'create', '--driver', 'calico', '--ipam-driver', 'calico'];
/** What the injected kernel objects are called: our prefixes, names no agent would make. */
const ORPHAN_CHAIN = 'cali-pi-nosuchprofile';
const ORPHAN_SET = 'cali4-t-nosuchtag';
const ORPHAN_LINK = 'calichk00001';
/** Inside the pool, which the agent blackholes, and routed only into a veth whose other end is down. */
const ORPHAN_ROUTE = '10.65.250.9/32';

let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let image: string;
const containers: string[] = [];
const networks: string[] = [];

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  // Whatever an earlier run left in the kernel would be (rightly) reported: start from nothing.
  await cleanupDataplane();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.65.0.0-16', JSON.stringify({ cidr: POOL_V4 }));
  agent = await startAgent(etcd);
});

afterAll(async () => {
  const teardown = new Teardown();
  const attempt = (step: () => Promise<unknown>) => teardown.attempt(step);
  if (etcd && (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null)) {
    await attempt(async () => (agent = await startAgent(etcd)));
  }
  await attempt(() => cleanupDocker({ containers, networks }));
  await attempt(async () => {
    await sh('ip', 'link', 'del', ORPHAN_LINK);
    await sh('ipset', 'destroy', ORPHAN_SET);
  });
  await attempt(async () => agent?.stop());
  await attempt(() => cleanupDataplane());
  await attempt(async () => etcd?.stop());
  teardown.done();
});

const check = (...args: string[]): Promise<CliResult> => calicoctl(['diags', '--check', ...args], etcd.env);

function sh(file: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/**
 * `diags --check` until `done` holds of its result: the agent programs the kernel a moment after
 * etcd changes, so the first look may still see the change on its way. Bounded by attempts.
 */
async function checkUntil(done: (result: CliResult) => boolean, ...args: string[]): Promise<CliResult> {
  let result = await check(...args);
  for (let attempt = 0; attempt < 80 && !done(result); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    result = await check(...args);
  }
  return result;
}
const clean = (result: CliResult) => result.code === 0;
const lines = (result: CliResult) => result.stdout.split('\n').filter((line) => line !== '');

async function createNetwork(prefix: string): Promise<{ name: string; id: string }> {
  const name = uniqueName(prefix);
  networks.push(name);
  const created = await docker(...CREATE_NETWORK, name);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  return { name, id: created.stdout.trim() };
}

async function runContainer(network: string): Promise<{ name: string; endpointId: string; address: string }> {
  const name = uniqueName('chk');
  containers.push(name);
  expect(await docker('run', '-d', '--name', name, '--net', network, image, 'sleep', '600')).toMatchObject({ code: 0 });
  const inspected = await docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', name);
  const attachment = Object.values(JSON.parse(inspected.stdout) as Record<string, { EndpointID: string; IPAddress: string }>)[0]!;
  return { name, endpointId: attachment.EndpointID, address: attachment.IPAddress };
}

let web: { name: string; id: string };
let db: { name: string; id: string };
let frontend: Awaited<ReturnType<typeof runContainer>>;
let database: Awaited<ReturnType<typeof runContainer>>;

describe('calicoctl diags --check on this host', () => {
  it('is clean after a tutorial-like setup: two networks, a rule between them, three containers', async () => {
    [web, db] = [await createNetwork('web'), await createNetwork('db')];
    const rule = ['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', web.name, 'to', 'ports', '5432'];
    expect(await calicoctl(rule, etcd.env)).toEqual({ code: 0, stdout: '', stderr: '' });
    frontend = await runContainer(web.name);
    database = await runContainer(db.name);
    await runContainer(db.name);
    const result = await checkUntil(clean);
    expect(result).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
    // This agent runs no BIRD (no --ip): a note, and no BGP checks.
    expect(result.stderr).toMatch(/^Note: BIRD: not running \(.*\/var\/run\/calico\/bird.ctl\); BGP checks skipped\n$/);
    const json = await check('-o', 'json');
    expect(JSON.parse(json.stdout)).toEqual({ hostname: HOSTNAME, findings: [], notes: [expect.stringMatching(/^BIRD: not running/)] });
  });

  it("a container's endpoint key deleted: the container has no endpoint, and its veth, chains and route have none", async () => {
    const key = `${ENDPOINTS}${frontend.endpointId}`;
    const value = (await etcdctl(etcd, 'get', '--print-value-only', key)).trim();
    await etcdctl(etcd, 'del', key);
    const veth = `cali${frontend.endpointId.slice(0, 11)}`;
    const result = await checkUntil((r) => lines(r).includes(`veth ${veth} has no endpoint`) && !lines(r).some((l) => l.startsWith('chain ')));
    expect(result.code).toBe(1);
    // The agent removes what the endpoint had in the kernel; Docker's container keeps its veth.
    expect(lines(result)).toEqual([`container ${frontend.name} has no endpoint ${frontend.endpointId} on network ${web.id}`, `veth ${veth} has no endpoint`]);
    expect(result.stderr).toContain('2 problems found.');
    // Neither is safe to fix while the container lives: --fix leaves both.
    const fixed = await check('--fix');
    expect(lines(fixed)).toEqual(lines(result));
    expect((await sh('ip', 'link', 'show', veth)).code).toBe(0);
    await etcdctl(etcd, 'put', key, value);
    expect(await checkUntil(clean)).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
  });

  it('an orphan chain, set, route and veth with our prefixes are found, and --fix removes exactly those', async () => {
    expect(await sh('iptables', '-N', ORPHAN_CHAIN)).toMatchObject({ code: 0 });
    expect(await sh('ipset', 'create', ORPHAN_SET, 'hash:net')).toMatchObject({ code: 0 });
    // A veth pair whose other end has no Calico name: only one end is ours to report.
    expect(await sh('ip', 'link', 'add', ORPHAN_LINK, 'type', 'veth', 'peer', 'name', 'tmpchk00001')).toMatchObject({ code: 0 });
    expect(await sh('ip', 'link', 'set', ORPHAN_LINK, 'up')).toMatchObject({ code: 0 });
    expect(await sh('ip', 'route', 'add', ORPHAN_ROUTE, 'dev', ORPHAN_LINK, 'proto', '157')).toMatchObject({ code: 0 });
    const found = await check();
    expect(found.code).toBe(1);
    expect(lines(found)).toEqual([
      `chain ${ORPHAN_CHAIN} has no profile`,
      `ipset ${ORPHAN_SET} has no tag`,
      `route ${ORPHAN_ROUTE} dev ${ORPHAN_LINK} has no endpoint`,
      `veth ${ORPHAN_LINK} has no endpoint`,
    ]);
    const fixed = await check('--fix');
    expect(fixed).toMatchObject({ code: 0, stderr: expect.not.stringContaining('Internal error') });
    expect(lines(fixed)).toEqual([...lines(found).map((line) => `Fixed: ${line}`), 'No problems found.']);
    expect((await sh('iptables', '-S', ORPHAN_CHAIN)).code).not.toBe(0);
    expect((await sh('ipset', 'list', '-n', ORPHAN_SET)).code).not.toBe(0);
    expect((await sh('ip', 'link', 'show', ORPHAN_LINK)).code).not.toBe(0);
    // What the agent owns is all still there: the containers' chains and routes.
    expect((await sh('ip', 'route', 'show', 'proto', '157')).stdout).toContain(`${database.address} dev cali${database.endpointId.slice(0, 11)}`);
  });

  it('an address assigned with no endpoint (RequestAddress, then nothing) is an orphan, and --fix releases it', async () => {
    const reply = await pluginRequest(SOCKET, '/IpamDriver.RequestAddress', JSON.stringify({ PoolID: 'CalicoPoolIPv4', Address: '', Options: {} }));
    expect(reply.status).toBe(200);
    const address = (JSON.parse(reply.body) as { Address: string }).Address.split('/')[0]!;
    const found = await check();
    expect(found.code).toBe(1);
    expect(lines(found)).toEqual([`orphaned address ${address} in block ${blockOf(address)} (no endpoint uses it)`]);
    expect((await calicoctl(['ipam', 'info', address], etcd.env)).code).toBe(0);
    const fixed = await check('--fix');
    expect(lines(fixed)).toEqual([`Fixed: orphaned address ${address} in block ${blockOf(address)} (no endpoint uses it)`, 'No problems found.']);
    expect(fixed.code).toBe(0);
    expect((await calicoctl(['ipam', 'info', address], etcd.env)).stderr).toContain(`IP ${address} is not currently assigned`);
  });

  it('calico-node killed mid-way: what changes while it is down stays in the kernel, and is found; --fix removes it', async () => {
    await agent!.kill();
    agent = undefined;
    const key = `${ENDPOINTS}${database.endpointId}`;
    const value = (await etcdctl(etcd, 'get', '--print-value-only', key)).trim();
    await etcdctl(etcd, 'del', key);
    const suffix = database.endpointId.slice(0, 11);
    const found = await check();
    expect(found.code).toBe(1);
    expect(lines(found)).toEqual([
      `container ${database.name} has no endpoint ${database.endpointId} on network ${db.id}`,
      `chain cali-from-${suffix} has no endpoint`,
      `chain cali-to-${suffix} has no endpoint`,
      `route ${database.address}/32 dev cali${suffix} has no endpoint`,
      `veth cali${suffix} has no endpoint`,
    ]);
    // The chains (with the dispatch chains' jumps to them) and the route go; the veth is Docker's.
    const fixed = await check('--fix');
    expect(lines(fixed)).toEqual([
      `Fixed: chain cali-from-${suffix} has no endpoint`,
      `Fixed: chain cali-to-${suffix} has no endpoint`,
      `Fixed: route ${database.address}/32 dev cali${suffix} has no endpoint`,
      `container ${database.name} has no endpoint ${database.endpointId} on network ${db.id}`,
      `veth cali${suffix} has no endpoint`,
    ]);
    expect((await sh('iptables', '-S', 'cali-FROM-ENDPOINT')).stdout).not.toContain(`cali-from-${suffix}`);
    // Back as it was: the key, then an agent, which programs the endpoint again.
    await etcdctl(etcd, 'put', key, value);
    agent = await startAgent(etcd);
    expect(await checkUntil(clean)).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
  });

  it("an endpoint whose container is gone is deleted by --fix, and its address released (Docker's view read)", async () => {
    // A stale endpoint as a crashed plugin would leave it: an address and a key, but no container.
    const reply = await pluginRequest(SOCKET, '/IpamDriver.RequestAddress', JSON.stringify({ PoolID: 'CalicoPoolIPv4', Address: '', Options: {} }));
    const address = (JSON.parse(reply.body) as { Address: string }).Address.split('/')[0]!;
    const id = 'f'.repeat(64);
    const endpoint = { state: 'active', name: `cali${id.slice(0, 11)}`, mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [db.id], labels: {}, ipv4_nets: [`${address}/32`], ipv6_nets: [] };
    await etcdctl(etcd, 'put', `${ENDPOINTS}${id}`, JSON.stringify(endpoint));
    const found = await check();
    expect(lines(found)).toEqual([`endpoint ${id} has no container`, `endpoint ${id} has no veth cali${id.slice(0, 11)}`]);
    const fixed = await check('--fix');
    expect(lines(fixed)).toEqual([`Fixed: endpoint ${id} has no container`, `Fixed: orphaned address ${address} in block ${blockOf(address)} (no endpoint uses it)`, 'No problems found.']);
    expect(fixed.code).toBe(0);
    expect((await etcdctl(etcd, 'get', '--keys-only', `${ENDPOINTS}${id}`)).trim()).toBe('');
  });

  it('etcd unreachable is an error of one line; Docker unreachable is a note', async () => {
    const noEtcd = await calicoctl(['diags', '--check'], { ...etcd.env, ETCD_ENDPOINTS: 'http://127.0.0.1:1' });
    expect(noEtcd.code).toBe(1);
    expect(noEtcd.stderr.trim().split('\n')).toHaveLength(1);
    const noDocker = await calicoctl(['diags', '--check'], { ...etcd.env, DOCKER_HOST: 'unix:///nonexistent.sock' });
    expect(noDocker.stderr).toContain('Note: Docker: Cannot connect to the Docker daemon at unix:///nonexistent.sock');
    expect(noDocker).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
  });
});

function blockOf(address: string): string {
  const parts = address.split('.').map(Number);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]! - (parts[3]! % 64)}/26`;
}
