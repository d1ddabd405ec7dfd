import { type AgentProcess, cleanupDataplane, startAgent } from './harness/agent';
import { calicoctl, type CliResult } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { findingsOf, recordRow } from './harness/faults';
import { Teardown } from './harness/teardown';

// Load: 100 writers at once, each running one calicoctl process after another, writing rules
// into 10 profiles for LOAD_SECONDS (default 30). No update is lost: each profile's final rule list is exactly the
// rules of the commands that succeeded. Then `diags --check` on this host is clean. It runs
// calico-node and reads the root namespace's iptables: run under `flock /tmp/calico-host.lock`.

const SECONDS = Number(process.env.LOAD_SECONDS ?? '30');
jest.setTimeout((SECONDS + 120) * 1000);

const WRITERS = 100;
const PROFILES = Array.from({ length: 10 }, (_, i) => `load-${i}`);
/** Each added rule is unique by its port; every fifth command of a writer removes one that is there. */
const REMOVE_EVERY = 5;

let etcd: EtcdServer;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
  await cleanupDataplane();
  agent = await startAgent(etcd);
});

afterAll(async () => {
  const teardown = new Teardown();
  await teardown.attempt(async () => agent?.stop());
  await teardown.attempt(() => cleanupDataplane());
  await teardown.attempt(async () => etcd?.stop());
  teardown.done();
});

// A generous request bound: a write that timed out on the client could still have committed,
// and then no one could say whether it succeeded. Contention is met by the retry loop instead.
const run = (args: string[]): Promise<CliResult> => calicoctl(args, { ...etcd.env, ETCD_TIMEOUT: '60s' });
const ruleWords = (port: number) => ['inbound', 'allow', 'tcp', 'to', 'ports', String(port)];

it(`${WRITERS} concurrent calicoctl writers on ${PROFILES.length} profiles for ${SECONDS} s lose no update`, async () => {
  for (const result of await Promise.all(PROFILES.map((profile) => run(['profile', 'add', profile])))) expect(result).toMatchObject({ code: 0 });
  // Two rules in each profile from the start, so that removals race with adds from the first turn.
  const SEEDED = [1, 2];
  for (const profile of PROFILES) {
    const rules = { inbound_rules: [{ action: 'allow', src_tag: profile }, ...SEEDED.map((port) => ({ action: 'allow', protocol: 'tcp', dst_ports: [port] }))], outbound_rules: [{ action: 'allow' }] };
    await etcdctl(etcd, 'put', `/calico/v1/policy/profile/${profile}/rules`, JSON.stringify(rules));
  }
  /** Per profile, the ports whose rule should be there: added by a successful command, not removed by one. */
  const expected = new Map(PROFILES.map((p) => [p, new Set<number>(SEEDED)]));
  /** `<profile> <port>` of each removal under way: each rule is removed at most once. */
  const removing = new Set<string>();
  let nextPort = 1000;
  let commands = 0;
  let removals = 0;
  const failures: string[] = [];
  const deadline = Date.now() + SECONDS * 1000;

  /** One of the 100 writers: one calicoctl process after another, on its own profile, until the deadline. */
  async function writer(slot: number): Promise<void> {
    const profile = PROFILES[slot % PROFILES.length] as string;
    const ports = expected.get(profile) as Set<number>;
    for (let turn = 0; turn === 0 || Date.now() < deadline; turn++) {
      // Every fifth command removes a rule known to be there (seeded, or its add succeeded), else it adds a new one.
      // Writers are ranked within their profile, so that each profile has its removers from the first turn.
      const rank = Math.floor(slot / PROFILES.length);
      const candidate = (rank + turn) % REMOVE_EVERY === REMOVE_EVERY - 1 ? [...ports].find((port) => !removing.has(`${profile} ${port}`)) : undefined;
      const add = candidate === undefined;
      const port = add ? nextPort++ : candidate;
      if (!add) {
        removing.add(`${profile} ${port}`);
        removals++;
      }
      const args = ['profile', profile, 'rule', add ? 'add' : 'remove', ...ruleWords(port)];
      const result = await run(args);
      commands++;
      if (result.code !== 0) failures.push(`${args.join(' ')}: ${result.stderr.trim()}`);
      else if (add) ports.add(port);
      else ports.delete(port);
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, slot) => writer(slot)));
  console.log(`load: ${commands} commands (${removals} removals) by ${WRITERS} concurrent writers in ${SECONDS} s, ${failures.length} failed${failures.length ? `:\n${failures.slice(0, 5).join('\n')}` : ''}`);

  const stored = new Map<string, number[]>();
  let lost = 0;
  for (const profile of PROFILES) {
    const value = JSON.parse(await etcdctl(etcd, 'get', '--print-value-only', `/calico/v1/policy/profile/${profile}/rules`)) as { inbound_rules: { dst_ports?: number[] }[] };
    const ports = value.inbound_rules.flatMap((rule) => rule.dst_ports ?? []);
    stored.set(profile, ports);
    const want = expected.get(profile) as Set<number>;
    // A rule missing, one that should have gone, or one twice: each is an update lost.
    lost += [...want].filter((port) => !ports.includes(port)).length + ports.filter((port, i) => !want.has(port) || ports.indexOf(port) !== i).length;
  }
  const checked = await run(['diags', '--check']);
  recordRow({ scenario: `${WRITERS} concurrent writers, ${SECONDS} s`, done: `${commands} calicoctl commands (${removals} removals, ${failures.length} refused) on ${PROFILES.length} profiles`, lost, findings: findingsOf(checked), seconds: SECONDS });
  for (const profile of PROFILES) {
    // Exactly once each: no lost update, and no rule of a failed command slipped in.
    expect([...(stored.get(profile) as number[])].sort((a, b) => a - b)).toEqual([...(expected.get(profile) as Set<number>)].sort((a, b) => a - b));
  }
  // A failure is allowed only as a clear one-line refusal (the retry bound), never a crash.
  for (const failure of failures) expect(failure).not.toMatch(/Internal error/);

  expect(checked).toMatchObject({ code: 0, stdout: 'No problems found.\n' });
});
