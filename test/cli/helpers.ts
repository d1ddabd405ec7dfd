import { type FakeWorld, fakeWorld, networkId, type RunResult } from '../fakes/cli';

/** Shared set-up for the in-process CLI tests. */

export const DB_ID = networkId('databases');
export const APP_ID = networkId('applications');

export const PROFILES = '/calico/v1/policy/profile/';
export const rulesKey = (id: string): string => `${PROFILES}${id}/rules`;
export const tagsKey = (id: string): string => `${PROFILES}${id}/tags`;
export const labelsKey = (id: string): string => `${PROFILES}${id}/labels`;

/** What `profile add <id>` (and the network driver) store for a new profile. */
export function defaultProfile(id: string): Record<string, unknown> {
  return {
    [tagsKey(id)]: [id],
    [rulesKey(id)]: { inbound_rules: [{ action: 'allow', src_tag: id }], outbound_rules: [{ action: 'allow' }] },
    [labelsKey(id)]: {},
  };
}

export const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
export const fails = (stderr: string, code = 1): RunResult => ({ code, stdout: '', stderr: `${stderr}\n` });
export const usage = (stderr: string): RunResult => fails(stderr, 2);

/** Runs a command that must succeed; returns its stdout. */
export async function mustRun(world: FakeWorld, argv: string[], stdin?: string): Promise<string> {
  const result = await world.run(argv, stdin === undefined ? {} : { stdin });
  if (result.code !== 0 || result.stderr !== '') {
    throw new Error(`calicoctl ${argv.join(' ')} failed (${result.code}): ${result.stderr}`);
  }
  return result.stdout;
}

/** A world with plain profiles, created with `profile add`. */
export async function plainWorld(...names: string[]): Promise<FakeWorld> {
  const world = fakeWorld();
  for (const name of names) await mustRun(world, ['profile', 'add', name]);
  return world;
}

/**
 * The tutorial's world: Docker networks `databases` and `applications` (calico driver), with the
 * driver's default profile stored under each network's ID.
 */
export async function networkWorld(): Promise<FakeWorld> {
  const world = fakeWorld();
  world.docker.networks = [
    { id: DB_ID, name: 'databases', driver: 'calico' },
    { id: APP_ID, name: 'applications', driver: 'calico' },
  ];
  await mustRun(world, ['profile', 'add', DB_ID]);
  await mustRun(world, ['profile', 'add', APP_ID]);
  return world;
}

/** Runs a command that must fail and checks that etcd was left exactly as it was. */
export async function runUnchanged(world: FakeWorld, argv: string[], options: { stdin?: string } = {}): Promise<RunResult> {
  const before = world.kv.dump();
  const commits = world.kv.commits;
  const result = await world.run(argv, options);
  expect(world.kv.dump()).toEqual(before);
  expect(world.kv.commits).toBe(commits);
  return result;
}

/** The `rule show` text for the given rule lines. */
export function ruleShow(inbound: string[], outbound: string[]): string {
  const numbered = (lines: string[]) => lines.map((line, i) => ` ${String(i + 1).padStart(3)} ${line}`);
  return [`Inbound rules:`, ...numbered(inbound), 'Outbound rules:', ...numbered(outbound)].join('\n') + '\n';
}

export interface EndpointSeed {
  host: string;
  id: string;
  profiles: string[];
  state?: string;
  v4?: string[];
  v6?: string[];
}

/** Stores a libnetwork workload endpoint, as calico/node's plugin would. */
export function seedEndpoint(world: FakeWorld, { host, id, profiles, state = 'active', v4 = ['192.168.0.1/32'], v6 = [] }: EndpointSeed): void {
  world.kv.seed(`/calico/v1/host/${host}/workload/libnetwork/libnetwork/endpoint/${id}`, {
    state,
    name: `cali${id.slice(0, 11)}`,
    mac: 'EE:EE:EE:EE:EE:EE',
    profile_ids: profiles,
    ipv4_nets: v4,
    ipv6_nets: v6,
    labels: {},
  });
}

/** The text the seed's profile rule words split into argv. */
export const words = (text: string): string[] => text.split(' ');
