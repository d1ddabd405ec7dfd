import { runContainer, startCalicoLab } from './harness/calico-lab';
import { checkUntilClean, findingsOf, recordRow } from './harness/faults';
import type { Lab, LabHost } from './harness/lab';

/**
 * Churn across the three-host lab: 200 containers started and removed in waves of 20, spread over
 * the hosts, then `calicoctl diags --check` run on each host (inside it, as its operator would)
 * finds nothing leaked: no address, block, veth, route, endpoint key, ipset member or chain. While
 * a wave runs, the check is clean too, BIRD's routes for each host's blocks included. Containers
 * only sleep: nothing here sends traffic.
 */
jest.setTimeout(900_000);

const TOTAL = Number(process.env.CHURN_CONTAINERS ?? 200);
const WAVE = 20;
const NETWORK = 'churn';

let lab: Lab;

beforeAll(async () => {
  lab = await startCalicoLab({ hosts: 3 });
  for (const host of lab.hosts) {
    const created = await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', NETWORK);
    if (created.code !== 0) throw new Error(`network create on ${host.name}: ${created.stderr}`);
  }
}, 300_000);

afterAll(async () => {
  await lab?.stop();
}, 180_000);

const summary = async () => Promise.all(lab.hosts.map(async (host) => ({ host: host.name, ...(await checkUntilClean(host)) })));
const clean = () => lab.hosts.map((host) => ({ host: host.name, code: 0, stdout: 'No problems found.\n', stderr: '' }));

it(`${TOTAL} containers started and removed in waves of ${WAVE} across 3 hosts leak nothing`, async () => {
  const started = Date.now();
  for (let wave = 0; wave < TOTAL / WAVE; wave++) {
    const placed = new Map<LabHost, string[]>(lab.hosts.map((host) => [host, []]));
    for (let i = 0; i < WAVE; i++) placed.get(lab.hosts[i % lab.hosts.length] as LabHost)!.push(`w${wave}-c${i}`);
    // Each host starts its share at once (Docker serialises a network's endpoints itself).
    await Promise.all([...placed].flatMap(([host, names]) => names.map((name) => runContainer(host, name, NETWORK))));
    if (wave === 0) expect(await summary()).toEqual(clean());
    // Removed one at a time per host: Docker 20.10 loses a network's endpoint count when several
    // of its endpoints go at once (see test/e2e/plugin.test.ts); the hosts go in parallel.
    await Promise.all(
      [...placed].map(async ([host, names]) => {
        for (const name of names) {
          const removed = await host.docker('rm', '-f', name);
          if (removed.code !== 0) throw new Error(`docker rm ${name} on ${host.name}: ${removed.stderr}`);
        }
      }),
    );
  }
  const after = await summary();
  // What a leak would look like: each finding is something left behind.
  const leaked = after.reduce((sum, result) => sum + findingsOf(result), 0);
  recordRow({ scenario: `${TOTAL} containers in waves of ${WAVE}, 3 hosts`, done: `${TOTAL} docker run + ${TOTAL} docker rm -f`, lost: leaked, findings: leaked, seconds: Math.round((Date.now() - started) / 100) / 10 });
  expect(after).toEqual(clean());
  // The structured view agrees, and every source was read on every host (no notes).
  for (const host of lab.hosts) {
    const report = JSON.parse((await host.calicoctl(['diags', '--check', '-o', 'json'])).stdout) as { findings: unknown[]; notes: string[] };
    expect(report).toEqual({ hostname: host.name, findings: [], notes: [] });
  }
});
