import { addressAt, decodeBlock, OWNER } from '../../src/datastore/blocks';
import { blockPrefix } from '../../src/datastore/keys';
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as ipaddr from 'ipaddr.js';
import * as os from 'os';
import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl, type CliResult } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, type RunResult, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { pluginRequest } from './harness/plugin-socket';
import { Teardown } from './harness/teardown';

// The Docker network + IPAM plugin against a real Docker Engine, a real etcd and the built
// bin/calico-node. Only one agent can serve /run/docker/plugins/calico.sock, so this file holds
// the socket for its whole run. Containers only sleep: nothing here sends traffic.

jest.setTimeout(180_000);

const SOCKET = '/run/docker/plugins/calico.sock';
// What calico-node uses for its host name (it inherits this process's environment).
const HOSTNAME = process.env.HOSTNAME || os.hostname();
const ENDPOINTS = `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/`;
const POOL_V4 = '10.65.0.0/16';
const POOL_V6 = 'fd65::/64';
const CREATE_NETWORK = ['network', 'create', '--driver', 'calico', '--ipam-driver', 'calico'];
// What the plugin server logs when a handler throws anything but a deliberate refusal.
const PLUGIN_FAILURE = /^\S+ ERROR \/\w+\.\w+ failed/m;

let etcd: EtcdServer;
let agent: AgentProcess;
let image: string;
let hostLinksBefore: Set<string> | undefined;
const containers: string[] = [];
const networks: string[] = [];
/** Containers of the current test only; removed after it even when it fails. */
let scratch: string[] = [];

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  hostLinksBefore = new Set(await hostCaliLinks());
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.65.0.0-16', JSON.stringify({ cidr: POOL_V4 }));
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v6/pool/fd65::-64', JSON.stringify({ cidr: POOL_V6 }));
  agent = await startAgent(etcd);
});

afterAll(async () => {
  const teardown = new Teardown();
  const attempt = (step: () => Promise<unknown>) => teardown.attempt(step);
  // Docker tears endpoints down through the plugin, so it must be serving while containers go.
  if (etcd && (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null)) {
    await attempt(async () => (agent = await startAgent(etcd)));
  }
  await attempt(() => cleanupDocker({ containers, networks }));
  // Whatever host veth a failed Leave left behind (never one that was there before this file ran).
  const before = hostLinksBefore;
  if (before) {
    await attempt(async () => {
      for (const link of await hostCaliLinks()) if (!before.has(link)) await ip('link', 'del', link);
    });
  }
  await attempt(async () => agent?.stop());
  // The agent also programmed the dataplane for these containers: leave no chain, set or route.
  await attempt(() => cleanupDataplane());
  await attempt(async () => etcd?.stop());
  teardown.done();
});

// A failed test must not leave containers (and their addresses) for the next one to trip over.
afterEach(async () => {
  const names = scratch;
  scratch = [];
  for (const name of names) await docker('rm', '-f', name);
});

// ---------------------------------------------------------------------------------------------
// Helpers

const run = (...args: string[]): Promise<CliResult> => calicoctl(args, etcd.env);

function ip(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('ip', args, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** Host interfaces named like the plugin's host veths (cali + 11 hex digits). */
async function hostCaliLinks(): Promise<string[]> {
  const { stdout } = await ip('-o', 'link', 'show');
  return [...stdout.matchAll(/^\d+: (cali[0-9a-f]{11})[@:]/gm)].map((m) => m[1] as string);
}

/** Every key under a prefix with its value (values are single-line JSON). */
async function etcdPrefix(prefix: string): Promise<Record<string, string>> {
  const lines = (await etcdctl(etcd, 'get', '--prefix', prefix)).split('\n');
  const result: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) result[lines[i] as string] = lines[i + 1] as string;
  return result;
}

/** Every assigned address of a version, with the host it was assigned for, read from the blocks in etcd. */
async function assignments(version: 4 | 6): Promise<Record<string, { host: string; block: string }>> {
  const result: Record<string, { host: string; block: string }> = {};
  for (const [key, value] of Object.entries(await etcdPrefix(blockPrefix(version)))) {
    const block = decodeBlock(key, value);
    block.allocations.forEach((index, ordinal) => {
      if (index === null) return;
      result[addressAt(block, ordinal)] = { host: block.attributes[index]?.secondary[OWNER] ?? '', block: block.cidr };
    });
  }
  return result;
}

const assignedAddresses = async (version: 4 | 6): Promise<string[]> => Object.keys(await assignments(version)).sort();

async function etcdKeys(prefix: string): Promise<string[]> {
  return (await etcdctl(etcd, 'get', '--prefix', '--keys-only', prefix)).split('\n').filter((line) => line !== '');
}

async function etcdValue(key: string): Promise<string | undefined> {
  const values = await etcdPrefix(key);
  return Object.hasOwn(values, key) ? values[key] : undefined;
}

async function etcdJson(key: string): Promise<unknown> {
  const value = await etcdValue(key);
  if (value === undefined) throw new Error(`etcd has no ${key}`);
  return JSON.parse(value);
}

async function createNetwork(prefix: string, ...extra: string[]): Promise<{ name: string; id: string }> {
  const name = uniqueName(prefix);
  networks.push(name);
  const created = await docker(...CREATE_NETWORK, ...extra, name);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const id = created.stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return { name, id };
}

async function runContainer(network: string, keepAfterTest = false): Promise<{ name: string; result: RunResult }> {
  const name = uniqueName('c');
  containers.push(name);
  if (!keepAfterTest) scratch.push(name);
  const result = await docker('run', '-d', '--name', name, '--net', network, image, 'sleep', '600');
  return { name, result };
}

interface Attachment {
  NetworkID: string;
  EndpointID: string;
  IPAddress: string;
  IPPrefixLen: number;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
}

async function attachment(container: string, network: string): Promise<Attachment> {
  const inspected = await docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', container);
  expect(inspected.code).toBe(0);
  const networksOf = JSON.parse(inspected.stdout) as Record<string, Attachment>;
  expect(Object.keys(networksOf)).toEqual([network]);
  return networksOf[network] as Attachment;
}

const hostVeth = (endpointId: string): string => `cali${endpointId.slice(0, 11)}`;
const inPool = (address: string, cidr: string): boolean => ipaddr.parse(address).match(ipaddr.parseCIDR(cidr));

async function exec(container: string, ...command: string[]): Promise<string> {
  const result = await docker('exec', container, ...command);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

/**
 * Everything that must be gone once a container is removed. `docker rm -f` returns only after
 * Docker's Leave, DeleteEndpoint and ReleaseAddress calls, so no polling is needed.
 */
async function expectEndpointGone(endpointId: string, address: string, version: 4 | 6 = 4): Promise<void> {
  expect(await etcdValue(`${ENDPOINTS}${endpointId}`)).toBeUndefined();
  expect((await assignments(version))[address]).toBeUndefined();
  const link = await ip('link', 'show', hostVeth(endpointId));
  expect(link.code).not.toBe(0);
  expect(link.stderr).toContain('does not exist');
}

/**
 * Removes containers one at a time. Docker 20.10 loses endpoint-count decrements when several
 * endpoints of one network are deleted at once (libnetwork's endpointCnt is shared through its
 * store cache and reloaded over pending changes on retry), after which the network can never be
 * removed ("has active endpoints") until dockerd restarts. Concurrent removal is therefore not
 * something a test can do without leaking networks; creation is serialised per network by Docker.
 */
async function removeContainers(names: readonly string[]): Promise<void> {
  for (const name of names) expect(await docker('rm', '-f', name)).toMatchObject({ code: 0, stderr: '' });
}

const plugin = (path: string, body: string) => pluginRequest(SOCKET, path, body);

/** Parses calicoctl's PrettyTable output into rows of trimmed cells (header row excluded). */
function tableRows(text: string): string[][] {
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^\+[-+]+\+$/);
  return lines.filter((line) => line.startsWith('|')).slice(1).map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()));
}

const defaultRules = (id: string) => ({ inbound_rules: [{ action: 'allow', src_tag: id }], outbound_rules: [{ action: 'allow' }] });

// ---------------------------------------------------------------------------------------------

describe("the seed's networks on a real Docker Engine", () => {
  let db: { name: string; id: string };
  let apps: { name: string; id: string };
  let container: string;
  let endpointId: string;
  let address: string;

  it('creates each network as a profile with the default policy', async () => {
    db = await createNetwork('databases');
    apps = await createNetwork('applications');

    for (const net of [db, apps]) {
      expect(await run('profile', net.name, 'rule', 'show')).toEqual({
        code: 0,
        stdout: `Inbound rules:\n   1 allow from tag ${net.name}\nOutbound rules:\n   1 allow\n`,
        stderr: '',
      });
      const profile = await etcdPrefix(`/calico/v1/policy/profile/${net.id}/`);
      expect(Object.keys(profile).sort()).toEqual(['labels', 'rules', 'tags'].map((leaf) => `/calico/v1/policy/profile/${net.id}/${leaf}`));
      expect(JSON.parse(profile[`/calico/v1/policy/profile/${net.id}/tags`] as string)).toEqual([net.id]);
      expect(JSON.parse(profile[`/calico/v1/policy/profile/${net.id}/labels`] as string)).toEqual({});
      expect(JSON.parse(profile[`/calico/v1/policy/profile/${net.id}/rules`] as string)).toEqual(defaultRules(net.id));
      // The plugin's own record is the CreateNetwork request.
      expect(await etcdJson(`/calico/libnetwork/v1/${net.id}`)).toMatchObject({
        NetworkID: net.id,
        IPv4Data: [{ Pool: '0.0.0.0/0', Gateway: '0.0.0.0/0' }],
        IPv6Data: [],
      });
    }

    // Docker shows Calico's pseudo pool, and the plugin's local scope.
    const inspected = await docker('network', 'inspect', '-f', '{{.Driver}} {{.Scope}} {{.IPAM.Driver}} {{json .IPAM.Config}}', db.name);
    expect(inspected.stdout.trim()).toBe('calico local calico [{"Subnet":"0.0.0.0/0","Gateway":"0.0.0.0"}]');

    const add = await run('profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '3306');
    expect(add).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await run('profile', db.name, 'rule', 'show')).toEqual({
      code: 0,
      stdout: `Inbound rules:\n   1 allow from tag ${db.name}\n   2 allow tcp from tag ${apps.name} to ports 3306\nOutbound rules:\n   1 allow\n`,
      stderr: '',
    });
    expect(await etcdJson(`/calico/v1/policy/profile/${db.id}/rules`)).toEqual({
      inbound_rules: [
        { action: 'allow', src_tag: db.id },
        { action: 'allow', protocol: 'tcp', src_tag: apps.id, dst_ports: [3306] },
      ],
      outbound_rules: [{ action: 'allow' }],
    });
  });

  it('gives a container on the network a Calico endpoint, address, interface and routes', async () => {
    const started = await runContainer(db.name, true); // the next two tests use it
    expect(started.result).toMatchObject({ code: 0, stderr: '' });
    container = started.name;
    const attached = await attachment(container, db.name);
    endpointId = attached.EndpointID;
    address = attached.IPAddress;
    expect(endpointId).toMatch(/^[0-9a-f]{64}$/);
    expect(attached).toMatchObject({ NetworkID: db.id, IPPrefixLen: 32, GlobalIPv6Address: '' });
    expect(inPool(address, POOL_V4)).toBe(true);

    expect(await etcdJson(`${ENDPOINTS}${endpointId}`)).toEqual({
      state: 'active',
      name: hostVeth(endpointId),
      mac: 'EE:EE:EE:EE:EE:EE',
      profile_ids: [db.id],
      ipv4_nets: [`${address}/32`],
      ipv6_nets: [],
      labels: {},
    });
    expect(await assignedAddresses(4)).toEqual([address]);
    expect((await assignments(4))[address]).toMatchObject({ host: HOSTNAME });
    expect(inPool(address, POOL_V4)).toBe(true);
    // From a block this host holds.
    expect(await etcdKeys(`/calico/ipam/v2/host/${HOSTNAME}/ipv4/block/`)).toEqual([`/calico/ipam/v2/host/${HOSTNAME}/ipv4/block/${(await assignments(4))[address]?.block.replace('/', '-')}`]);

    // Inside the container: lo and cali0 only; the fixed MAC, the /32, routes via 169.254.1.1.
    const links = await exec(container, 'ip', '-o', 'link');
    expect([...links.matchAll(/^\d+: ([^:@]+)[@:]/gm)].map((m) => m[1])).toEqual(['lo', 'cali0']);
    const cali0 = await exec(container, 'ip', 'addr', 'show', 'cali0');
    expect(cali0).toContain('link/ether ee:ee:ee:ee:ee:ee ');
    expect(cali0).toContain(`inet ${address}/32 scope global cali0`);
    expect(cali0.match(/^\s+inet /gm)).toHaveLength(1);
    const routes = await exec(container, 'ip', 'route');
    expect(routes.split('\n').map((line) => line.trim()).filter((line) => line !== '')).toEqual([
      'default via 169.254.1.1 dev cali0',
      '169.254.1.1 dev cali0 scope link',
    ]);

    // On the host: the other end of the pair, up.
    const host = await ip('-o', 'link', 'show', hostVeth(endpointId));
    expect(host.code).toBe(0);
    expect(host.stdout).toMatch(new RegExp(`^\\d+: ${hostVeth(endpointId)}@if\\d+: <[^>]*\\bUP\\b[^>]*\\bLOWER_UP\\b[^>]*>.* state UP `));
  });

  it('lists the endpoint under its profile, and refuses to remove a profile in use', async () => {
    const detailed = await run('profile', 'show', '--detailed');
    expect(detailed).toMatchObject({ code: 0, stderr: '' });
    expect(detailed.stdout.split('\n')[1]?.split('|').map((cell) => cell.trim())).toEqual(
      ['', 'Name', 'Host', 'Orchestrator ID', 'Workload ID', 'Endpoint ID', 'State', ''],
    );
    expect(tableRows(detailed.stdout)).toEqual(
      [
        [db.id, HOSTNAME, 'libnetwork', 'libnetwork', endpointId, 'active'],
        [apps.id, 'None', 'None', 'None', 'None', 'None'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );

    const before = await etcdPrefix('/calico/');
    expect(await run('profile', 'remove', db.id)).toEqual({
      code: 1,
      stdout: '',
      stderr: "Cannot remove profile - profile in use by endpoint(s). Use the '--no-check' flag to remove the profile anyway.\n",
    });
    expect(await etcdPrefix('/calico/')).toEqual(before);
  });

  it('removes the endpoint, veth and address with the container, and the profile with the network', async () => {
    await removeContainers([container]);
    await expectEndpointGone(endpointId, address);
    expect(await assignedAddresses(4)).toEqual([]);
    expect(await etcdKeys(ENDPOINTS)).toEqual([]);

    for (const net of [db, apps]) {
      expect(await docker('network', 'rm', net.name)).toMatchObject({ code: 0, stderr: '' });
      expect(await etcdKeys(`/calico/v1/policy/profile/${net.id}/`)).toEqual([]);
      expect(await etcdValue(`/calico/libnetwork/v1/${net.id}`)).toBeUndefined();
    }
    expect(await etcdKeys('/calico/v1/policy/profile/')).toEqual([]);
    expect(await etcdKeys('/calico/libnetwork/')).toEqual([]);
  });
});

describe('concurrency', () => {
  it('gives 20 concurrent docker runs 20 distinct addresses, and frees them all', async () => {
    const net = await createNetwork('busy');
    expect(await assignedAddresses(4)).toEqual([]);

    const started = await Promise.all(Array.from({ length: 20 }, () => runContainer(net.name)));
    expect(started.filter((s) => s.result.code !== 0).map((s) => s.result.stderr)).toEqual([]);
    const attached = await Promise.all(started.map((s) => attachment(s.name, net.name)));
    const addresses = attached.map((a) => a.IPAddress);
    expect(new Set(addresses).size).toBe(20);
    expect(addresses.every((a) => inPool(a, POOL_V4))).toBe(true);
    expect(await assignedAddresses(4)).toEqual([...addresses].sort());
    expect((await etcdKeys(ENDPOINTS)).sort()).toEqual(attached.map((a) => `${ENDPOINTS}${a.EndpointID}`).sort());
    const endpoints = await etcdPrefix(ENDPOINTS);
    for (const a of attached) {
      expect(JSON.parse(endpoints[`${ENDPOINTS}${a.EndpointID}`] as string)).toMatchObject({ ipv4_nets: [`${a.IPAddress}/32`], profile_ids: [net.id] });
    }

    await removeContainers(started.map((s) => s.name));
    expect(await assignedAddresses(4)).toEqual([]);
    expect(await etcdKeys(ENDPOINTS)).toEqual([]);
    const leftLinks = (await hostCaliLinks()).filter((link) => attached.some((a) => hostVeth(a.EndpointID) === link));
    expect(leftLinks).toEqual([]);
    expect(await docker('network', 'rm', net.name)).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('IPAM under truly simultaneous requests', () => {
  // Docker serialises endpoint creation per network, so the runs above reach RequestAddress one
  // at a time; here 20 requests are in flight on the socket at once.
  it('answers 20 simultaneous RequestAddress calls with 20 distinct addresses, and releases them all', async () => {
    expect(await assignedAddresses(4)).toEqual([]);
    const request = JSON.stringify({ PoolID: 'CalicoPoolIPv4', Address: '', Options: null });
    const replies = await Promise.all(Array.from({ length: 20 }, () => plugin('/IpamDriver.RequestAddress', request)));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    const answers = replies.map((r) => JSON.parse(r.body) as { Address: string; Data: object });
    for (const answer of answers) {
      expect(answer).toEqual({ Address: expect.stringMatching(/\/32$/), Data: {} });
    }
    const addresses = answers.map((a) => a.Address.replace('/32', ''));
    expect(new Set(addresses).size).toBe(20);
    expect(addresses.every((a) => inPool(a, POOL_V4))).toBe(true);
    expect(await assignedAddresses(4)).toEqual([...addresses].sort());

    const released = await Promise.all(addresses.map((a) => plugin('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: 'CalicoPoolIPv4', Address: a }))));
    expect(released).toEqual(Array(20).fill({ status: 200, body: '{}' }));
    expect(await assignedAddresses(4)).toEqual([]);
  });
});

describe('plugin restart', () => {
  it('keeps the endpoints and addresses of running containers, without duplicates', async () => {
    const net = await createNetwork('restart');
    const first = await Promise.all([runContainer(net.name), runContainer(net.name)]);
    expect(first.map((s) => s.result.code)).toEqual([0, 0]);
    const before = await Promise.all(first.map((s) => attachment(s.name, net.name)));
    const state = async () => ({ endpoints: await etcdPrefix(ENDPOINTS), addresses: await assignments(4) });
    const snapshot = await state();
    expect(Object.keys(snapshot.endpoints)).toHaveLength(2);
    expect(Object.keys(snapshot.addresses)).toHaveLength(2);

    expect(agent.log()).not.toMatch(PLUGIN_FAILURE);
    await agent.stop();
    expect(agent.child.exitCode).toBe(0);
    agent = await startAgent(etcd);

    expect(await state()).toEqual(snapshot);
    expect(await Promise.all(first.map((s) => attachment(s.name, net.name)))).toEqual(before);
    for (const a of before) expect((await ip('link', 'show', hostVeth(a.EndpointID))).code).toBe(0);

    const next = await runContainer(net.name);
    expect(next.result.code).toBe(0);
    const added = await attachment(next.name, net.name);
    expect(before.map((a) => a.IPAddress)).not.toContain(added.IPAddress);
    expect(inPool(added.IPAddress, POOL_V4)).toBe(true);
    const after = await state();
    expect(Object.keys(after.endpoints).sort()).toEqual([...before, added].map((a) => `${ENDPOINTS}${a.EndpointID}`).sort());
    expect(Object.keys(after.addresses).sort()).toEqual([...before, added].map((a) => a.IPAddress).sort());

    // An endpoint made by the previous agent is torn down by this one.
    const old = before[0] as Attachment;
    await removeContainers([first[0]!.name]);
    await expectEndpointGone(old.EndpointID, old.IPAddress);
    expect(Object.keys(await etcdPrefix(ENDPOINTS))).toHaveLength(2);

    await removeContainers([first[1]!.name, next.name]);
    expect(await assignedAddresses(4)).toEqual([]);
    expect(await etcdKeys(ENDPOINTS)).toEqual([]);
    expect(await docker('network', 'rm', net.name)).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('bad requests on the plugin socket', () => {
  const hexId = () => randomBytes(32).toString('hex');
  const errorOf = (reply: { body: string }): unknown => (JSON.parse(reply.body) as { Err?: unknown }).Err;

  it('answers errors, writes nothing, and keeps serving', async () => {
    const before = await etcdPrefix('/calico/');

    const malformed = await plugin('/NetworkDriver.CreateNetwork', '{"NetworkID": ');
    expect(malformed.status).not.toBe(200);
    expect(errorOf(malformed)).toEqual(expect.stringMatching(/\S/));

    const notAnObject = await plugin('/NetworkDriver.CreateNetwork', '[1,2,3]');
    expect(notAnObject.status).not.toBe(200);
    expect(errorOf(notAnObject)).toEqual(expect.stringMatching(/\S/));

    expect((await plugin('/NetworkDriver.NoSuchMethod', '{}')).status).toBe(404);
    expect((await plugin('/nonsense', '')).status).toBe(404);

    const missing = hexId();
    const unknownNetwork = await plugin(
      '/NetworkDriver.CreateEndpoint',
      JSON.stringify({ NetworkID: missing, EndpointID: hexId(), Interface: { Address: '10.65.200.1/32', AddressIPv6: '', MacAddress: '' }, Options: {} }),
    );
    expect(unknownNetwork.status).not.toBe(200);
    expect(errorOf(unknownNetwork)).toBe(`Network ${missing} does not exist.`);

    const noEndpointId = await plugin('/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: hexId(), Interface: { Address: '10.65.200.2/32' } }));
    expect(noEndpointId.status).not.toBe(200);
    expect(errorOf(noEndpointId)).toEqual(expect.stringMatching(/EndpointID/));

    // Docker releases the pseudo gateway whenever a Calico-IPAM network goes away.
    expect(await plugin('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: 'CalicoPoolIPv4', Address: '0.0.0.0' }))).toEqual({ status: 200, body: '{}' });
    expect(await plugin('/Plugin.Activate', '')).toEqual({ status: 200, body: '{"Implements":["NetworkDriver","IpamDriver"]}' });

    expect(await etcdPrefix('/calico/')).toEqual(before);
    expect(agent.child.exitCode).toBeNull();

    const net = await createNetwork('after-bad');
    expect(await etcdKeys(`/calico/v1/policy/profile/${net.id}/`)).toHaveLength(3);
    expect(await docker('network', 'rm', net.name)).toMatchObject({ code: 0, stderr: '' });
    expect(await etcdKeys(`/calico/v1/policy/profile/${net.id}/`)).toEqual([]);
  });
});

describe('IPv6', () => {
  it('gives a container on an --ipv6 network an address from the IPv6 pool and a route via the host', async () => {
    // No --subnet needed: Calico IPAM answers ::/0 with a ::/0 pseudo gateway for V6 too.
    const net = await createNetwork('v6', '--ipv6');
    expect(await etcdJson(`/calico/libnetwork/v1/${net.id}`)).toMatchObject({
      Options: { 'com.docker.network.enable_ipv6': true },
      IPv4Data: [{ Pool: '0.0.0.0/0', Gateway: '0.0.0.0/0' }],
      IPv6Data: [{ Pool: '::/0', Gateway: '::/0' }],
    });
    const started = await runContainer(net.name);
    expect(started.result).toMatchObject({ code: 0, stderr: '' });
    const attached = await attachment(started.name, net.name);
    const v6 = attached.GlobalIPv6Address;
    expect(inPool(v6, POOL_V6)).toBe(true);
    expect(attached.GlobalIPv6PrefixLen).toBe(128);
    expect(inPool(attached.IPAddress, POOL_V4)).toBe(true);

    expect(await etcdJson(`${ENDPOINTS}${attached.EndpointID}`)).toEqual({
      state: 'active',
      name: hostVeth(attached.EndpointID),
      mac: 'EE:EE:EE:EE:EE:EE',
      profile_ids: [net.id],
      ipv4_nets: [`${attached.IPAddress}/32`],
      ipv6_nets: [`${v6}/128`],
      labels: {},
    });
    expect(await assignedAddresses(6)).toEqual([v6]);
    expect((await assignments(6))[v6]).toMatchObject({ host: HOSTNAME });
    expect(inPool(v6, POOL_V6)).toBe(true);

    const cali0 = await exec(started.name, 'ip', '-6', 'addr', 'show', 'cali0');
    expect(cali0).toContain(`inet6 ${v6}/128 scope global`);
    // The IPv6 next hop is the host veth's link-local address.
    const hostAddr = (await ip('-6', '-o', 'addr', 'show', 'dev', hostVeth(attached.EndpointID), 'scope', 'link')).stdout;
    const gateway = /inet6 (fe80:[0-9a-f:]+)\/64/.exec(hostAddr)?.[1];
    expect(gateway).toBeDefined();
    const routes6 = (await exec(started.name, 'ip', '-6', 'route')).split('\n').map((line) => line.trim().replace(/\s+/g, ' '));
    expect(routes6).toContainEqual(expect.stringMatching(new RegExp(`^default via ${gateway} dev cali0( |$)`)));
    expect(routes6).toContainEqual(expect.stringMatching(new RegExp(`^${v6} dev cali0( |$)`)));
    const routes4 = (await exec(started.name, 'ip', 'route')).split('\n').map((line) => line.trim()).filter((line) => line !== '');
    expect(routes4).toEqual(['default via 169.254.1.1 dev cali0', '169.254.1.1 dev cali0 scope link']);

    await removeContainers([started.name]);
    await expectEndpointGone(attached.EndpointID, v6, 6);
    expect(await assignedAddresses(4)).toEqual([]);
    expect(await docker('network', 'rm', net.name)).toMatchObject({ code: 0, stderr: '' });
    expect(await etcdKeys(`/calico/v1/policy/profile/${net.id}/`)).toEqual([]);
  });
});

describe('the agent', () => {
  it('is still running, and no plugin call failed inside it', () => {
    expect(agent.child.exitCode).toBeNull();
    expect(agent.log()).not.toMatch(PLUGIN_FAILURE);
  });
});
