import { startNode } from './harness/calico-lab';
import { Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * `calicoctl config bgp|node bgp loglevel` reaching BIRD on two lab hosts: the agent rewrites
 * /run/calico/bird.cfg (`debug all;` at debug, no debug line at none, `debug { states };` by
 * default), a node's own level wins over the global one, and removing it brings the global one back.
 */
jest.setTimeout(180_000);

let lab: Lab;

const birdConfig = async (host: LabHost): Promise<string> => (await host.exec(['cat', '/run/calico/bird.cfg'])).stdout;

/** The debug lines of a host's bird.cfg, once it shows `expected` (the agent renders after each etcd change). */
async function debugLines(host: LabHost, expected: string[]): Promise<string[]> {
  let lines: string[] = [];
  await waitUntil(`${host.name}'s bird.cfg has ${JSON.stringify(expected)}`, async () => {
    lines = (await birdConfig(host)).split('\n').filter((line) => /^\s*debug\b/.test(line)).map((line) => line.trim());
    return lines.length > 0 === expected.length > 0 && lines.every((line) => expected.includes(line));
  }, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; it has ${JSON.stringify(lines)}`);
  });
  return [...new Set(lines)];
}

async function ctl(host: LabHost, ...args: string[]): Promise<string> {
  const result = await host.calicoctl(args);
  if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')} on ${host.name}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  lab = await Lab.start({ hosts: 2 });
  // BIRD only: no plugin, no dataplane, so no dockerd is needed.
  await Promise.all(lab.hosts.map((host) => startNode(host, ['--no-plugin', '--no-dataplane'])));
}, 120_000);

afterAll(async () => {
  for (const host of lab?.hosts ?? []) await host.kill('calico-node');
  await lab?.stop();
}, 60_000);

it('config bgp loglevel debug gives every host `debug all`; config node bgp loglevel none on one host wins there; --remove undoes each', async () => {
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  expect(await debugLines(h1, ['debug { states };'])).toEqual(['debug { states };']);

  await ctl(h1, 'config', 'bgp', 'loglevel', 'debug');
  expect(await debugLines(h1, ['debug all;'])).toEqual(['debug all;']);
  expect(await debugLines(h2, ['debug all;'])).toEqual(['debug all;']);
  expect(await ctl(h2, 'config', 'bgp', 'loglevel')).toBe('debug\n');

  await ctl(h1, 'config', 'node', 'bgp', 'loglevel', 'none');
  expect(await debugLines(h1, [])).toEqual([]);
  expect(await birdConfig(h1)).toContain('protocol kernel');
  expect(await debugLines(h2, ['debug all;'])).toEqual(['debug all;']);
  expect(await lab.etcdGet(`/calico/bgp/v1/host/${h1.name}/loglevel`)).toBe(`/calico/bgp/v1/host/${h1.name}/loglevel\nnone\n`);
  expect(await ctl(h2, 'config', 'node', 'bgp', 'loglevel')).toBe('No value configured\n');

  expect(await ctl(h1, 'config', 'node', 'bgp', 'loglevel', '--remove')).toBe('Value removed\n');
  expect(await debugLines(h1, ['debug all;'])).toEqual(['debug all;']);
  expect(await ctl(h1, 'config', 'bgp', 'loglevel', '--remove')).toBe('Value removed\n');
  expect(await debugLines(h1, ['debug { states };'])).toEqual(['debug { states };']);
  expect(await debugLines(h2, ['debug { states };'])).toEqual(['debug { states };']);
  // BIRD took each configuration: it still runs, with no error in the agent's log.
  for (const host of [h1, h2]) expect(host.log('calico-node')).not.toMatch(/ ERROR /);
});
