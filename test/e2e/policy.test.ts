import { execFile } from 'child_process';
import { readFileSync, readlinkSync } from 'fs';
import { type AgentProcess, CALICO_NODE, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, type RunResult, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { Teardown } from './harness/teardown';

// Profiles enforced on real packets: real containers on Calico networks, the built bin/calico-node
// programming iptables, ipsets and routes, and TCP/ICMP probes between the containers. Probes go
// only between this file's own containers and are bounded (nc -w 1, ping -W 1).

jest.setTimeout(120_000);

const POOL_V4 = '10.65.0.0/16';
const POOL_V6 = 'fd65::/64';
const CREATE_NETWORK = ['network', 'create', '--driver', 'calico', '--ipam-driver', 'calico'];
const SERVERS = 'httpd -p 3306 -h /www && httpd -p 8080 -h /www && httpd -p 22 -h /www && exec sleep 86400';
/** How long a rule change may take to become an "allowed" verdict. */
const CONVERGE_MS = 3000;

let etcd: EtcdServer;
let agent: AgentProcess;
/** Every agent this file started (the restart tests start new ones), for their logs. */
const agents: AgentProcess[] = [];
let image: string;
let hostLinksBefore: Set<string> | undefined;
/** Everything this file created, removed in afterAll (containers one at a time). */
const containers: string[] = [];
const networks: string[] = [];
/** calico-node processes not started by this file that ran alongside it (they fight over the cali chains). */
const intruders = new Set<string>();
let watchIntruders: NodeJS.Timeout | undefined;

interface Net {
  readonly label: string;
  readonly name: string;
  readonly id: string;
}

interface Ctr {
  readonly label: string;
  readonly name: string;
  readonly ip: string;
}

type Port = number | 'ping';
type Verdict = 'allowed' | 'dropped';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function host(cmd: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 127) : 0, stdout, stderr }),
    );
  });
}

/**
 * calico-node processes that this file did not start (someone else's run): only one agent can own
 * the plugin socket and the cali chains. Ours are this process's children. Agents in other
 * network namespaces (a multi-host lab's simulated hosts) own other chains and do not count.
 */
async function otherAgents(): Promise<string[]> {
  // Only processes that run calico-node (directly or under node), not any command line mentioning it.
  const { stdout } = await host('pgrep', '-af', '^(\\S*/)?(node(js)? +)?\\S*calico-node( |$)');
  return stdout.split('\n').filter((line) => {
    const pid = line.split(' ')[0] as string;
    return line.trim() !== '' && parentOf(pid) !== process.pid && inOurNetns(pid);
  });
}

function inOurNetns(pid: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
  } catch {
    return false; // already gone
  }
}

function parentOf(pid: string): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces but not ") ".
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    return undefined; // already gone
  }
}

async function hostCaliLinks(): Promise<string[]> {
  const { stdout } = await host('ip', '-o', 'link', 'show');
  return [...stdout.matchAll(/^\d+: (cali[0-9a-f]{11})[@:]/gm)].map((m) => m[1] as string);
}

/** Waits (polling, never killing) until no calico-node but ours runs. */
async function waitForOtherAgents(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const others = await otherAgents();
    if (others.length === 0) return;
    if (Date.now() > deadline) throw new Error(`another calico-node is still running:\n${others.join('\n')}`);
    await sleep(2000);
  }
}

beforeAll(async () => {
  await waitForOtherAgents(600_000);
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  hostLinksBefore = new Set(await hostCaliLinks());
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.65.0.0-16', JSON.stringify({ cidr: POOL_V4 }));
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v6/pool/fd65::-64', JSON.stringify({ cidr: POOL_V6 }));
  agent = await launchAgent();
  watchIntruders = setInterval(() => {
    void otherAgents().then((lines) => {
      for (const line of lines) intruders.add(line);
    });
  }, 2000);
}, 660_000);

afterAll(async () => {
  clearInterval(watchIntruders);
  if (intruders.size > 0) console.warn(`Another calico-node ran during this file; verdicts may have been disturbed:\n${[...intruders].join('\n')}`);
  const teardown = new Teardown();
  const attempt = (step: () => Promise<unknown>) => teardown.attempt(step);
  // Docker tears endpoints down through the plugin, so an agent must serve while containers go.
  if (etcd && (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null)) {
    await attempt(async () => (agent = await launchAgent()));
  }
  // One at a time (as cleanupDocker does): Docker 20.10 loses a network's endpoint count when several go at once.
  await attempt(() => cleanupDocker({ containers, networks }));
  const before = hostLinksBefore;
  // Host veths a failed Leave left behind; not when someone else's agent may own new ones.
  if (before && intruders.size === 0) {
    await attempt(async () => {
      for (const link of await hostCaliLinks()) if (!before.has(link)) await host('ip', 'link', 'del', link);
    });
  }
  await attempt(async () => agent?.stop());
  await attempt(async () => {
    // --cleanup removes every cali chain, set and route: never under someone else's running agent.
    await waitForOtherAgents(300_000);
    const r = await host(CALICO_NODE, '--cleanup');
    if (r.code !== 0) throw new Error(`calico-node --cleanup failed: ${r.stderr}`);
  });
  await attempt(async () => etcd?.stop());
  await attempt(async () => {
    const save = await host('sh', '-c', 'iptables-save | grep -c cali');
    expect(save.stdout.trim()).toBe('0');
    const sets = await host('ipset', 'list', '-n');
    expect(sets.stdout.split('\n').filter((name) => /^cali[46]-/.test(name))).toEqual([]);
    expect((await host('ip', '-4', 'route', 'show', 'proto', '157')).stdout).toBe('');
    expect((await host('ip', '-6', 'route', 'show', 'proto', '157')).stdout).toBe('');
  });
  teardown.done();
}, 600_000);

// ---------------------------------------------------------------------------------------------
// Helpers

async function launchAgent(): Promise<AgentProcess> {
  const started = await startAgent(etcd);
  agents.push(started);
  return started;
}

/** Runs calicoctl, which must succeed silently (or print exactly `stdout`). */
async function ctl(args: string[], stdout = ''): Promise<void> {
  const result = await calicoctl(args, etcd.env);
  expect({ args: args.join(' '), ...result }).toEqual({ args: args.join(' '), code: 0, stdout, stderr: '' });
}

async function createNetwork(label: string, ...extra: string[]): Promise<Net> {
  const name = uniqueName(label);
  networks.push(name);
  const created = await docker(...CREATE_NETWORK, ...extra, name);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  return { label, name, id: created.stdout.trim() };
}

/** A container running the servers, with its IPv4 address (runContainer6: its IPv6 one) as `ip`. */
async function runContainer(label: string, net: Net, ...extra: string[]): Promise<Ctr> {
  return start(label, net, 4, extra);
}

async function runContainer6(label: string, net: Net): Promise<Ctr> {
  return start(label, net, 6, []);
}

async function start(label: string, net: Net, family: 4 | 6, extra: string[]): Promise<Ctr> {
  const name = uniqueName(label);
  containers.push(name);
  const started = await docker('run', '-d', '--name', name, '--net', net.name, ...extra, image, 'sh', '-c', SERVERS);
  expect(started).toMatchObject({ code: 0, stderr: '' });
  const field = family === 4 ? 'IPAddress' : 'GlobalIPv6Address';
  const inspected = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${net.name}").${field}}}`, name);
  expect(inspected.code).toBe(0);
  const ip = inspected.stdout.trim();
  expect(ip).toMatch(family === 4 ? /^10\.65\.\d+\.\d+$/ : /^fd65::[0-9a-f:]+$/);
  if (family === 6) {
    // An IPv6 address is unusable until duplicate address detection is over (about a second).
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && /tentative/.test((await docker('exec', name, 'ip', '-6', 'addr', 'show', 'dev', 'cali0')).stdout)) await sleep(100);
  }
  return { label, name, ip };
}

async function removeContainer(ctr: Ctr): Promise<void> {
  expect(await docker('rm', '-f', '-v', ctr.name)).toMatchObject({ code: 0, stderr: '' });
  containers.splice(containers.indexOf(ctr.name), 1);
}

/** One bounded probe: an HTTP request over TCP (allowed iff the answer arrives), or one ping. */
async function probe(from: Ctr, to: Ctr, port: Port): Promise<Verdict> {
  if (port === 'ping') {
    const r = await docker('exec', from.name, 'ping', '-c', '1', '-W', '1', to.ip);
    return r.code === 0 ? 'allowed' : 'dropped';
  }
  const r = await docker('exec', from.name, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${to.ip} ${port}`);
  return r.stdout.includes('200 OK') ? 'allowed' : 'dropped';
}

/** Probes until the verdict is `want` or the time is up; returns the last verdict. */
async function until(want: Verdict, from: Ctr, to: Ctr, port: Port, ms = CONVERGE_MS): Promise<Verdict> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe(from, to, port);
    if (got === want || Date.now() > deadline) return got;
    await sleep(50);
  }
}

const describeProbe = (from: Ctr, to: Ctr, port: Port) => `${from.label} -> ${to.label}${port === 'ping' ? ' ping' : `:${port}`}`;

/**
 * Checks a set of verdicts. The allowed ones are polled first (a rule change takes a moment), so
 * once they hold the dataplane has caught up, and the dropped ones are then probed once each.
 */
async function expectVerdicts(expected: ReadonlyArray<readonly [Ctr, Ctr, Port, Verdict]>): Promise<void> {
  const allowed = expected.filter((e) => e[3] === 'allowed');
  const dropped = expected.filter((e) => e[3] === 'dropped');
  const gotAllowed = await Promise.all(allowed.map(([from, to, port]) => until('allowed', from, to, port)));
  const gotDropped = await Promise.all(dropped.map(([from, to, port]) => probe(from, to, port)));
  const show = (list: ReadonlyArray<readonly [Ctr, Ctr, Port, Verdict]>, verdicts: Verdict[]) =>
    list.map(([from, to, port], i) => `${describeProbe(from, to, port)} ${verdicts[i]}`);
  expect([...show(allowed, gotAllowed), ...show(dropped, gotDropped)]).toEqual([
    ...show(allowed, allowed.map(() => 'allowed')),
    ...show(dropped, dropped.map(() => 'dropped')),
  ]);
}

/** For a change whose only effect is to drop something: polls until it is dropped. */
async function expectBecomesDropped(from: Ctr, to: Ctr, port: Port): Promise<void> {
  expect(`${describeProbe(from, to, port)} ${await until('dropped', from, to, port)}`).toBe(`${describeProbe(from, to, port)} dropped`);
}

/** Puts a network's profile back to what the plugin created (tags [id]; allow from tag id; outbound allow). */
async function resetProfile(net: Net): Promise<void> {
  const prefix = `/calico/v1/policy/profile/${net.id}/`;
  await etcdctl(etcd, 'put', `${prefix}tags`, JSON.stringify([net.id]));
  await etcdctl(etcd, 'put', `${prefix}rules`, JSON.stringify({ inbound_rules: [{ action: 'allow', src_tag: net.id }], outbound_rules: [{ action: 'allow' }] }));
}

async function snmp(ctr: Ctr, group: string, field: string): Promise<number> {
  const r = await docker('exec', ctr.name, 'cat', '/proc/net/snmp');
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n').filter((line) => line.startsWith(`${group}: `));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/);
  const index = names.indexOf(field);
  expect(index).toBeGreaterThan(0);
  return Number(values[index]);
}

async function snmp6(ctr: Ctr, field: string): Promise<number> {
  const r = await docker('exec', ctr.name, 'cat', '/proc/net/snmp6');
  expect(r.code).toBe(0);
  const value = new RegExp(`^${field}\\s+(\\d+)$`, 'm').exec(r.stdout)?.[1];
  expect(value).toBeDefined();
  return Number(value);
}

// ---------------------------------------------------------------------------------------------

describe("the seed's networks: databases, applications, other", () => {
  let db: Net;
  let apps: Net;
  let other: Net;
  let db1: Ctr;
  let db2: Ctr;
  let app1: Ctr;
  let app2: Ctr;
  let oth1: Ctr;

  beforeAll(async () => {
    db = await createNetwork('databases');
    apps = await createNetwork('applications');
    other = await createNetwork('other');
    db1 = await runContainer('db1', db);
    db2 = await runContainer('db2', db);
    app1 = await runContainer('app1', apps);
    app2 = await runContainer('app2', apps);
    oth1 = await runContainer('oth1', other);
  });

  // Each test starts from the default policy of every network.
  afterEach(async () => {
    for (const net of [db, apps, other]) if (net) await resetProfile(net);
  });

  it('default policy: the same network is allowed, other networks are dropped', async () => {
    await expectVerdicts([
      [db2, db1, 3306, 'allowed'],
      [db2, db1, 8080, 'allowed'],
      [db2, db1, 22, 'allowed'],
      [db1, db2, 'ping', 'allowed'],
      [app1, app2, 8080, 'allowed'],
      [app2, app1, 'ping', 'allowed'],
      [app1, db1, 3306, 'dropped'],
      [app1, db1, 'ping', 'dropped'],
      [db1, app1, 8080, 'dropped'],
      [db1, app1, 'ping', 'dropped'],
      [oth1, db1, 3306, 'dropped'],
      [oth1, app1, 8080, 'dropped'],
      [db1, oth1, 22, 'dropped'],
      [app1, oth1, 'ping', 'dropped'],
    ]);
  });

  it("the seed's rule lets applications reach databases on 3306 only, and removing it drops them again", async () => {
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '3306']);
    await expectVerdicts([
      [app1, db1, 3306, 'allowed'],
      [app1, db2, 3306, 'allowed'],
      [app2, db1, 3306, 'allowed'],
      [db2, db1, 8080, 'allowed'],
      [app1, db1, 22, 'dropped'],
      [app1, db1, 8080, 'dropped'],
      [app1, db1, 'ping', 'dropped'],
      [oth1, db1, 3306, 'dropped'],
      // The rule is on the databases' inbound side only.
      [db1, app1, 3306, 'dropped'],
    ]);

    await ctl(['profile', db.name, 'rule', 'remove', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '3306']);
    await expectBecomesDropped(app1, db1, 3306);
    await expectVerdicts([
      [db2, db1, 3306, 'allowed'],
      [app2, db2, 3306, 'dropped'],
    ]);
  });

  it('a deny before an allow wins, and --at moves an allow above it', async () => {
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', '--at=1', 'deny', 'tcp', 'from', 'tag', db.name, 'to', 'ports', '8080']);
    await expectBecomesDropped(db2, db1, 8080);
    await expectVerdicts([
      [db2, db1, 3306, 'allowed'],
      [db1, db2, 22, 'allowed'],
      [db1, db2, 'ping', 'allowed'],
      [db1, db2, 8080, 'dropped'],
    ]);

    // An allow after the deny changes nothing; moved to position 1, it lets 8080 in.
    const allow8080 = ['allow', 'tcp', 'from', 'tag', db.name, 'to', 'ports', '8080'];
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', ...allow8080]);
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '22']);
    await expectVerdicts([
      [app1, db1, 22, 'allowed'], // the later change has landed, so the one before it has too
      [db2, db1, 8080, 'dropped'],
    ]);
    await ctl(['profile', db.name, 'rule', 'remove', 'inbound', ...allow8080]);
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', '--at=1', ...allow8080]);
    const shown = await calicoctl(['profile', db.name, 'rule', 'show'], etcd.env);
    expect(shown.stdout.split('\n').slice(0, 4)).toEqual([
      'Inbound rules:',
      `   1 allow tcp from tag ${db.name} to ports 8080`,
      `   2 deny tcp from tag ${db.name} to ports 8080`,
      `   3 allow from tag ${db.name}`,
    ]);
    await expectVerdicts([
      [db2, db1, 8080, 'allowed'],
      [db1, db2, 8080, 'allowed'],
      [app1, db1, 8080, 'dropped'],
    ]);

    // Removing position 1 puts the deny first again.
    await ctl(['profile', db.name, 'rule', 'remove', 'inbound', '--at=1']);
    await expectBecomesDropped(db2, db1, 8080);
    await expectVerdicts([[db2, db1, 3306, 'allowed']]);
  });

  it('a cidr rule admits only that address', async () => {
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'cidr', `${app1.ip}/32`, 'to', 'ports', '8080']);
    await expectVerdicts([
      [app1, db1, 8080, 'allowed'],
      [app1, db2, 8080, 'allowed'],
      [app2, db1, 8080, 'dropped'],
      [oth1, db1, 8080, 'dropped'],
      [app1, db1, 3306, 'dropped'],
      [app1, db1, 'ping', 'dropped'],
    ]);
  });

  it('an icmp type rule lets ping through and nothing else', async () => {
    // Type 0 (echo reply) does not admit an echo request; the later tcp rule shows it has landed.
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'icmp', 'type', '0', 'from', 'tag', apps.name]);
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '22']);
    await expectVerdicts([
      [app1, db1, 22, 'allowed'],
      [app1, db1, 'ping', 'dropped'],
    ]);

    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'icmp', 'type', '8', 'from', 'tag', apps.name]);
    await expectVerdicts([
      [app1, db1, 'ping', 'allowed'],
      [app2, db2, 'ping', 'allowed'],
      [app1, db1, 3306, 'dropped'],
      [oth1, db1, 'ping', 'dropped'],
      // Replies are not new traffic: db1 still cannot start anything towards app1.
      [db1, app1, 'ping', 'dropped'],
    ]);
  });

  it('outbound rules restrict what a network may send, to any destination', async () => {
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name]);
    await expectVerdicts([
      [app1, db1, 8080, 'allowed'],
      [app1, db1, 3306, 'allowed'],
    ]);

    await ctl(['profile', apps.name, 'rule', 'add', 'outbound', 'allow', 'tcp', 'to', 'ports', '3306']);
    await ctl(['profile', apps.name, 'rule', 'remove', 'outbound', 'allow']);
    await expectBecomesDropped(app1, db1, 8080);
    await expectVerdicts([
      [app1, db1, 3306, 'allowed'],
      [app2, db2, 3306, 'allowed'],
      [app1, app2, 3306, 'allowed'],
      [db1, db2, 8080, 'allowed'], // the databases' own outbound is untouched
      [app1, db1, 22, 'dropped'],
      [app1, app2, 8080, 'dropped'],
      [app2, app1, 'ping', 'dropped'],
    ]);
  });

  it('a tag added to a profile makes its members members of that tag, until it is removed', async () => {
    await ctl(['profile', apps.name, 'tag', 'add', other.name], `Tag ${other.name} added to profile ${apps.name}\n`);
    // other's default rule "allow from tag other" now admits the applications.
    await expectVerdicts([
      [app1, oth1, 8080, 'allowed'],
      [app2, oth1, 'ping', 'allowed'],
      [oth1, app1, 8080, 'dropped'],
      [db1, oth1, 8080, 'dropped'],
      [app1, db1, 8080, 'dropped'],
    ]);

    await ctl(['profile', apps.name, 'tag', 'remove', other.name], `Tag ${other.name} removed from profile ${apps.name}\n`);
    await expectBecomesDropped(app1, oth1, 8080);
    await expectVerdicts([
      [app1, app2, 8080, 'allowed'],
      [app2, oth1, 'ping', 'dropped'],
    ]);
  });

  it('a container that joins after the rule exists gets the rule, as source and as destination', async () => {
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '3306']);
    const app3 = await runContainer('app3', apps);
    const db3 = await runContainer('db3', db);
    await expectVerdicts([
      [app3, db1, 3306, 'allowed'],
      [app1, db3, 3306, 'allowed'],
      [app3, db3, 3306, 'allowed'],
      [db3, db1, 8080, 'allowed'],
      [app3, app1, 8080, 'allowed'],
      [app3, db1, 8080, 'dropped'],
      [app1, db3, 22, 'dropped'],
      [oth1, db3, 3306, 'dropped'],
    ]);
    await removeContainer(app3);
    await removeContainer(db3);
  });
});

describe('the "Multiple networks" pattern', () => {
  it('a network AB reaches and is reached by A and B, while A and B stay isolated', async () => {
    const a = await createNetwork('A');
    const b = await createNetwork('B');
    const ab = await createNetwork('AB');
    const a1 = await runContainer('a1', a);
    const b1 = await runContainer('b1', b);
    const ab1 = await runContainer('ab1', ab);
    await ctl(['profile', ab.name, 'rule', 'add', 'inbound', 'allow', 'from', 'tag', a.name]);
    await ctl(['profile', ab.name, 'rule', 'add', 'inbound', 'allow', 'from', 'tag', b.name]);
    await ctl(['profile', a.name, 'rule', 'add', 'inbound', 'allow', 'from', 'tag', ab.name]);
    await ctl(['profile', b.name, 'rule', 'add', 'inbound', 'allow', 'from', 'tag', ab.name]);
    await expectVerdicts([
      [a1, ab1, 3306, 'allowed'],
      [b1, ab1, 8080, 'allowed'],
      [ab1, a1, 22, 'allowed'],
      [ab1, b1, 3306, 'allowed'],
      [a1, ab1, 'ping', 'allowed'],
      [ab1, b1, 'ping', 'allowed'],
      [a1, b1, 3306, 'dropped'],
      [b1, a1, 8080, 'dropped'],
      [a1, b1, 'ping', 'dropped'],
      [b1, a1, 'ping', 'dropped'],
    ]);
    for (const ctr of [a1, b1, ab1]) await removeContainer(ctr);
  });
});

describe('IPv6', () => {
  it('enforces the default policy, tag, cidr and icmpv6 rules on IPv6 packets', async () => {
    const a = await createNetwork('v6a', '--ipv6');
    const b = await createNetwork('v6b', '--ipv6');
    const a1 = await runContainer6('v6a1', a);
    const a2 = await runContainer6('v6a2', a);
    const b1 = await runContainer6('v6b1', b);
    await expectVerdicts([
      [a1, a2, 8080, 'allowed'],
      [a2, a1, 'ping', 'allowed'],
      [b1, a1, 3306, 'dropped'],
      [b1, a1, 'ping', 'dropped'],
      [a1, b1, 22, 'dropped'],
    ]);

    await ctl(['profile', a.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', b.name, 'to', 'ports', '3306']);
    await ctl(['profile', a.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'cidr', `${b1.ip}/128`, 'to', 'ports', '22']);
    await ctl(['profile', a.name, 'rule', 'add', 'inbound', 'allow', 'icmpv6', 'type', '128', 'from', 'tag', b.name]);
    await expectVerdicts([
      [b1, a1, 3306, 'allowed'],
      [b1, a2, 22, 'allowed'],
      [b1, a1, 'ping', 'allowed'],
      [b1, a1, 8080, 'dropped'],
      [a1, b1, 3306, 'dropped'],
      [a1, b1, 'ping', 'dropped'],
    ]);
    for (const ctr of [a1, a2, b1]) await removeContainer(ctr);
  });
});

describe('anti-spoofing', () => {
  it('drops packets with another container’s source address, or another source MAC', async () => {
    const net = await createNetwork('spoof');
    const target = await runContainer('target', net);
    const victim = await runContainer('victim', net);
    const attacker = await runContainer('attacker', net, '--cap-add', 'NET_ADMIN');
    const echoes = () => snmp(target, 'Icmp', 'InEchos');
    const sent = () => snmp(attacker, 'Icmp', 'OutEchos');

    // With its own address the attacker is allowed in (same network).
    await expectVerdicts([[attacker, target, 'ping', 'allowed'], [victim, target, 'ping', 'allowed']]);
    let received = await echoes();
    let out = await sent();
    expect((await docker('exec', attacker.name, 'ping', '-c', '1', '-W', '1', '-I', attacker.ip, target.ip)).code).toBe(0);
    expect(await echoes()).toBe(received + 1);

    // The victim's address, which the target's policy would accept: nothing arrives.
    expect(await docker('exec', attacker.name, 'ip', 'addr', 'add', `${victim.ip}/32`, 'dev', 'cali0')).toMatchObject({ code: 0, stderr: '' });
    received = await echoes();
    out = await sent();
    expect((await docker('exec', attacker.name, 'ping', '-c', '2', '-W', '1', '-I', victim.ip, target.ip)).code).not.toBe(0);
    expect(await sent()).toBe(out + 2); // the packets did leave the attacker
    expect(await echoes()).toBe(received);

    // The real source still works after the attempt.
    expect((await docker('exec', attacker.name, 'ping', '-c', '1', '-W', '1', '-I', attacker.ip, target.ip)).code).toBe(0);
    expect(await echoes()).toBe(received + 1);

    // A changed source MAC with the real address: dropped too.
    received = await echoes();
    out = await sent();
    const mac = await docker('exec', attacker.name, 'ip', 'link', 'set', 'dev', 'cali0', 'address', 'ee:ee:ee:ee:ee:e0');
    expect(mac).toMatchObject({ code: 0, stderr: '' });
    expect((await docker('exec', attacker.name, 'ping', '-c', '2', '-W', '1', '-I', attacker.ip, target.ip)).code).not.toBe(0);
    expect(await sent()).toBe(out + 2);
    expect(await echoes()).toBe(received);

    for (const ctr of [attacker, victim, target]) await removeContainer(ctr);
  });

  it('drops IPv6 packets with another container’s source address', async () => {
    const net = await createNetwork('spoof6', '--ipv6');
    const target = await runContainer6('target6', net);
    const victim = await runContainer6('victim6', net);
    const attacker = await start('attacker6', net, 6, ['--cap-add', 'NET_ADMIN']);
    const echoes = () => snmp6(target, 'Icmp6InEchos');
    const sent = () => snmp6(attacker, 'Icmp6OutEchos');

    await expectVerdicts([[attacker, target, 'ping', 'allowed'], [victim, target, 'ping', 'allowed']]);
    let received = await echoes();
    expect((await docker('exec', attacker.name, 'ping', '-c', '1', '-W', '1', '-I', attacker.ip, target.ip)).code).toBe(0);
    expect(await echoes()).toBe(received + 1);

    const added = await docker('exec', attacker.name, 'ip', '-6', 'addr', 'add', `${victim.ip}/128`, 'dev', 'cali0');
    expect(added).toMatchObject({ code: 0, stderr: '' });
    // busybox ip has no nodad: wait for duplicate address detection to finish.
    const deadline = Date.now() + 5000;
    let shown = '';
    do {
      await sleep(200);
      shown = (await docker('exec', attacker.name, 'ip', '-6', 'addr', 'show', 'dev', 'cali0')).stdout;
    } while (/tentative/.test(shown) && Date.now() < deadline);
    expect(shown).toContain(`inet6 ${victim.ip}/128 scope global`);
    expect(shown).not.toMatch(/tentative|dadfailed/);
    received = await echoes();
    const out = await sent();
    expect((await docker('exec', attacker.name, 'ping', '-c', '2', '-W', '1', '-I', victim.ip, target.ip)).code).not.toBe(0);
    expect(await sent()).toBe(out + 2); // the packets did leave the attacker
    expect(await echoes()).toBe(received);

    for (const ctr of [attacker, victim, target]) await removeContainer(ctr);
  });
});

describe('restart and failure', () => {
  let db: Net;
  let apps: Net;
  let db1: Ctr;
  let db2: Ctr;
  let app1: Ctr;

  beforeAll(async () => {
    db = await createNetwork('rdatabases');
    apps = await createNetwork('rapplications');
    db1 = await runContainer('rdb1', db);
    db2 = await runContainer('rdb2', db);
    app1 = await runContainer('rapp1', apps);
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '3306']);
  });

  const baseline = (): Array<readonly [Ctr, Ctr, Port, Verdict]> => [
    [app1, db1, 3306, 'allowed'],
    [db2, db1, 8080, 'allowed'],
    [db1, db2, 'ping', 'allowed'],
    [app1, db1, 8080, 'dropped'],
    [app1, db1, 22, 'dropped'],
    [db1, app1, 3306, 'dropped'],
  ];

  it('kill -9 of the agent: existing verdicts hold', async () => {
    await expectVerdicts(baseline());
    await agent.kill();
    expect(agent.child.signalCode).toBe('SIGKILL');
    // Probed once each, no polling: nothing may have changed.
    const now = await Promise.all(baseline().map(([from, to, port]) => probe(from, to, port)));
    expect(baseline().map(([from, to, port], i) => `${describeProbe(from, to, port)} ${now[i]}`)).toEqual(
      baseline().map(([from, to, port, verdict]) => `${describeProbe(from, to, port)} ${verdict}`),
    );
  });

  it('a change made while the agent is down applies when it restarts, with no flap', async () => {
    expect(agent.child.exitCode !== null || agent.child.signalCode !== null).toBe(true);
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '8080']);
    await sleep(300);
    expect(await probe(app1, db1, 8080)).toBe('dropped'); // nobody applied it yet

    // Probe an allowed and a dropped flow in a loop across the restart.
    let looping = true;
    const flaps: string[] = [];
    let rounds = 0;
    const loop = async (from: Ctr, to: Ctr, port: Port, want: Verdict) => {
      while (looping) {
        const got = await probe(from, to, port);
        if (got !== want) flaps.push(`${describeProbe(from, to, port)} ${got} at ${new Date().toISOString()}`);
        rounds++;
      }
    };
    const loops = [loop(app1, db1, 3306, 'allowed'), loop(db2, db1, 8080, 'allowed'), loop(app1, db1, 22, 'dropped')];
    try {
      await sleep(300);
      agent = await launchAgent();
      expect(await until('allowed', app1, db1, 8080)).toBe('allowed');
      await sleep(1000);
    } finally {
      looping = false;
      await Promise.all(loops);
    }
    expect(flaps).toEqual([]);
    expect(rounds).toBeGreaterThan(6);
    await expectVerdicts([
      [app1, db1, 3306, 'allowed'],
      [db2, db1, 8080, 'allowed'],
      [app1, db1, 22, 'dropped'],
      [app1, db1, 'ping', 'dropped'],
    ]);
  });

  it('etcd down: verdicts hold; etcd back: new changes apply within seconds', async () => {
    const held: Array<readonly [Ctr, Ctr, Port, Verdict]> = [
      [app1, db1, 3306, 'allowed'],
      [app1, db1, 8080, 'allowed'],
      [db2, db1, 22, 'allowed'],
      [app1, db1, 22, 'dropped'],
      [db1, app1, 3306, 'dropped'],
    ];
    await expectVerdicts(held);
    await etcd.kill();
    await sleep(4000); // longer than the agent's longest wait between reconnection attempts
    await expectVerdicts(held);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.child.signalCode).toBeNull();

    await etcd.restart();
    const changed = Date.now();
    await ctl(['profile', db.name, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', apps.name, 'to', 'ports', '22']);
    expect(await until('allowed', app1, db1, 22, 10_000)).toBe('allowed');
    expect(Date.now() - changed).toBeLessThan(10_000);
    await expectVerdicts([[db1, app1, 3306, 'dropped'], [app1, db1, 'ping', 'dropped']]);
    expect(agent.child.exitCode).toBeNull();
  });
});

describe('the agents', () => {
  it('applied every change without an error', () => {
    expect(agents.length).toBe(2);
    expect(agents.flatMap((a) => a.log().split('\n').filter((line) => / ERROR /.test(line)))).toEqual([]);
    expect(agent.child.exitCode).toBeNull();
  });
});
