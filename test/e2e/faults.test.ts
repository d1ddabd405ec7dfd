import { birdDaemons, IMAGE, runContainer, startCalicoLab, startNode, waitForMesh } from './harness/calico-lab';
import {
  bulkDelete,
  bulkPut,
  checkUntilClean,
  CLEAN,
  endpointPuts,
  etcdDelPrefix,
  findingsOf,
  kernelCounts,
  type KernelCounts,
  makeLinks,
  pidsOf,
  profilePuts,
  recordRow,
  syntheticEndpoint,
} from './harness/faults';
import { type Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * Faults in the middle of work, on a two-host lab (own namespaces, dockerds, calico-nodes and
 * BIRDs; no lock needed). Each fault ends with `calicoctl diags --check` on the host clean: etcd,
 * the kernel, BIRD and Docker agree, nothing leaked. Containers only sleep: nothing here sends
 * traffic. Scale with FAULTS_ENDPOINTS (2,000), FAULTS_PROFILES (10,000), FAULTS_FILL_ENDPOINTS
 * (5,000); bench/reliability runs this file and collects each scenario's row.
 */
jest.setTimeout(600_000);

const NETWORK = 'faults';
const ENDPOINTS = Number(process.env.FAULTS_ENDPOINTS ?? 2000);
const PROFILES = Number(process.env.FAULTS_PROFILES ?? 10_000);
const FILL_ENDPOINTS = Number(process.env.FAULTS_FILL_ENDPOINTS ?? 5000);
/** Of the filled endpoints, this many are on host 1 (with links); the rest on a host that does not exist. */
const FILL_LOCAL = Math.min(1000, FILL_ENDPOINTS);

let lab: Lab;
let h1: LabHost;
let h2: LabHost;

beforeAll(async () => {
  lab = await startCalicoLab({ hosts: 2 });
  [h1, h2] = lab.hosts as [LabHost, LabHost];
  for (const host of lab.hosts) {
    const created = await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', NETWORK);
    if (created.code !== 0) throw new Error(`network create on ${host.name}: ${created.stderr}`);
  }
  // A container on each host: each holds a block, which BIRD announces to the other.
  await Promise.all([runContainer(h1, 'base1', NETWORK), runContainer(h2, 'base2', NETWORK)]);
  for (const host of lab.hosts) expect(await checkUntilClean(host)).toEqual(CLEAN);
}, 300_000);

afterAll(async () => {
  await lab?.stop();
}, 180_000);

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;
const tail = (host: LabHost, label: string) => host.log(label).split('\n').slice(-30).join('\n');

/** The block h2 holds, as h1's kernel learned it from BIRD (`proto bird`), or undefined. */
async function learnedBlock(): Promise<string | undefined> {
  const out = (await h1.exec(['ip', '-4', 'route', 'show', 'proto', 'bird'])).stdout;
  return /^(\S+\/26) via 10\.200\.0\.2/m.exec(out)?.[1];
}

// The agent supervises BIRD (src/agent/bgp/supervisor.ts): when BIRD exits for any reason it is
// started again with backoff (0.5 s doubling to 30 s, reset after 10 s up), and the kernel keeps
// BIRD's routes meanwhile (`persist`); its peer keeps ours for the graceful-restart time.
it('BIRD killed with SIGKILL is restarted by calico-node, its sessions and routes come back, and the check is clean', async () => {
  const started = Date.now();
  const before = pidsOf(h1, 'bird');
  expect(before).toHaveLength(1);
  const block = await learnedBlock();
  expect(block).toBeDefined();
  for (const pid of before) process.kill(pid, 'SIGKILL');
  await waitUntil('a new bird on host 1', async () => pidsOf(h1, 'bird').some((pid) => !before.includes(pid)), 30_000);
  expect(birdDaemons(h1)).toEqual(['bird', 'bird6']);
  await waitForMesh(h1, 4);
  await waitUntil('h2\'s block learned again', async () => (await learnedBlock()) === block, 30_000);
  const check = await checkUntilClean(h1);
  expect(check).toEqual(CLEAN);
  expect(h1.log('calico-node')).toMatch(/bird exited \(SIGKILL\); restarting in/);
  recordRow({ scenario: 'kill -9 BIRD', done: '1 kill; calico-node restarted it', lost: 0, findings: findingsOf(check), seconds: seconds(started) });
});

it(`calico-node killed with SIGKILL while it applies ${ENDPOINTS} new endpoints, and again while it removes them: after each restart the kernel is as etcd says`, async () => {
  const started = Date.now();
  const TAG = 'zz';
  await makeLinks(h1, TAG, ENDPOINTS);
  await bulkPut(h1, [...profilePuts('zzbig'), ...endpointPuts(h1.name, TAG, ENDPOINTS, 'zzbig')]);
  // The first of the new chains or routes in the kernel: the apply is under way.
  let atKill = await kernelCounts(h1, TAG);
  await waitUntil('the agent to start applying', async () => ((atKill = await kernelCounts(h1, TAG)), atKill.chains + atKill.routes > 0), 120_000, 20);
  await h1.kill('calico-node', 'SIGKILL');
  console.log(`calico-node killed with ${atKill.chains} of ${ENDPOINTS} chains and ${atKill.routes} of ${ENDPOINTS} routes in the kernel`);
  await startNode(h1);
  let check = await checkUntilClean(h1);
  expect(check).toEqual(CLEAN);
  expect(await kernelCounts(h1, TAG)).toEqual({ chains: ENDPOINTS, routes: ENDPOINTS });
  const ipset = await h1.exec(['ipset', 'list', 'cali4-t-zzbig']);
  expect(ipset.stdout).toContain(`${syntheticEndpoint(TAG, ENDPOINTS - 1).ip}\n`);
  const findingsAfterAdd = findingsOf(check);

  // Removal, with the links kept: the agent itself deletes the chains (one commit per pass), then
  // the routes (an `ip -batch`), and the endpoints go from etcd in transactions of 100, one after
  // another, so the removal is spread over many passes. The kill lands when the kernel shows some
  // of the 2 x ENDPOINTS chains and routes gone, but not all.
  const keys = endpointPuts(h1.name, TAG, ENDPOINTS, 'zzbig').map((put) => put.key);
  const deleting = bulkDelete(h1, keys);
  let atKill2 = await kernelCounts(h1, TAG);
  const partly = (c: KernelCounts) => c.chains + c.routes < 2 * ENDPOINTS && c.chains + c.routes > 0;
  await waitUntil('the agent to be part way through removing', async () => ((atKill2 = await kernelCounts(h1, TAG)), partly(atKill2) || atKill2.chains + atKill2.routes === 0), 120_000, 10);
  await h1.kill('calico-node', 'SIGKILL');
  console.log(`calico-node killed with ${atKill2.chains} of ${ENDPOINTS} chains and ${atKill2.routes} of ${ENDPOINTS} routes left to remove`);
  expect(partly(atKill2)).toBe(true);
  await deleting;
  await startNode(h1);
  // Routes into live links whose endpoints are gone: only the restarted agent removes them.
  await waitUntil('the restarted agent to remove the rest', async () => {
    const left = await kernelCounts(h1, TAG);
    return left.chains + left.routes === 0;
  }, 120_000, 250);
  await makeLinks(h1, TAG, ENDPOINTS, 'del');
  check = await checkUntilClean(h1);
  expect(check).toEqual(CLEAN);
  await etcdDelPrefix(lab, '/calico/v1/policy/profile/zzbig/');
  expect(await checkUntilClean(h1)).toEqual(CLEAN);
  recordRow({
    scenario: `kill -9 calico-node applying ${ENDPOINTS} endpoints`,
    done: `${ENDPOINTS} endpoints added, killed at ${atKill.chains} chains and ${atKill.routes} routes of ${ENDPOINTS}; removed, killed with ${atKill2.chains} chains and ${atKill2.routes} routes left; 2 restarts`,
    lost: 0,
    findings: findingsAfterAdd + findingsOf(check),
    seconds: seconds(started),
  });
});

it(`etcd filled with ${PROFILES} profiles and ${FILL_ENDPOINTS} endpoints: the restarted agent comes up and its dataplane is right`, async () => {
  const TAG = 'zd';
  const profiles = Array.from({ length: PROFILES }, (_, p) => profilePuts(`zp${p}`)).flat();
  // Local endpoint n is in profile zp<n>; endpoint n of the other host in zp<n mod FILL_LOCAL>, so
  // each local profile's tag has members from both.
  const local = Array.from({ length: FILL_LOCAL }, (_, n) => endpointPuts(h1.name, TAG, 1, `zp${n}`, n)).flat();
  const remote = Array.from({ length: FILL_ENDPOINTS - FILL_LOCAL }, (_, i) => endpointPuts('faults-elsewhere', TAG, 1, `zp${(FILL_LOCAL + i) % FILL_LOCAL}`, FILL_LOCAL + i)).flat();
  await makeLinks(h1, TAG, FILL_LOCAL);
  await h1.kill('calico-node', 'SIGKILL');
  await bulkPut(h1, [...profiles, ...local, ...remote]);
  const restart = Date.now();
  await startNode(h1).catch((error: Error) => {
    throw new Error(`${error.message}\n${tail(h1, 'calico-node')}`);
  });
  const upSeconds = seconds(restart);
  const check = await checkUntilClean(h1);
  const settledSeconds = seconds(restart);
  console.log(`calico-node with ${PROFILES} profiles and ${FILL_ENDPOINTS} endpoints in etcd: started in ${upSeconds} s, the check clean after ${settledSeconds} s`);
  expect(check).toEqual(CLEAN);
  expect(await kernelCounts(h1, TAG)).toEqual({ chains: FILL_LOCAL, routes: FILL_LOCAL });
  // zp1's tag: local endpoint 1 and every remote endpoint n with n mod FILL_LOCAL = 1.
  const members = (await h1.exec(['ipset', 'list', 'cali4-t-zp1'])).stdout;
  const expected = Array.from({ length: Math.ceil(FILL_ENDPOINTS / FILL_LOCAL) }, (_, k) => 1 + k * FILL_LOCAL).filter((n) => n < FILL_ENDPOINTS);
  for (const n of expected) expect(members).toContain(`${syntheticEndpoint(TAG, n).ip}\n`);
  // BIRD and the other host are unaffected.
  await waitForMesh(h1, 4);
  expect(await checkUntilClean(h2)).toEqual(CLEAN);
  recordRow({
    scenario: `restart with ${PROFILES} profiles, ${FILL_ENDPOINTS} endpoints`,
    done: `${profiles.length + local.length + remote.length} keys written, 1 restart; up in ${upSeconds} s, dataplane checked clean at ${settledSeconds} s`,
    lost: 0,
    findings: findingsOf(check),
    seconds: settledSeconds,
  });
});

// dockerd killed while `docker run` is between two of its calls to the plugin: once after
// RequestAddress (an address assigned, no endpoint yet), once after Join (an endpoint key and a
// veth, no running container). Then calico-node and dockerd start again, the plugin first, so
// that the restarted engine's clean-up of what it had half made reaches it, as on a host where
// the plugin is up before the engine. Whatever is left, the checker finds and --fix releases.
it('dockerd killed with SIGKILL in the middle of `docker run`: after a restart nothing leaks, or the checker finds it and --fix releases it', async () => {
  const started = Date.now();
  const points: [string, RegExp][] = [
    ['RequestAddress', /Assigned \S+ from pool/],
    ['Join', /Joined endpoint \w+/],
  ];
  let found = 0;
  const done: string[] = [];
  for (const [i, [call, logged]] of points.entries()) {
    const from = h1.log('calico-node').length;
    const run = h1.docker('run', '-d', '--init', '--net', NETWORK, '--name', `victim${i}`, IMAGE, 'sleep', '86400');
    await waitUntil(`calico-node to answer ${call}`, async () => logged.test(h1.log('calico-node').slice(from)), 60_000, 10);
    await h1.kill('dockerd', 'SIGKILL');
    const result = await run;
    await h1.kill('calico-node');
    await startNode(h1);
    await h1.startDockerd();
    let check = await checkUntilClean(h1, 20);
    const findings = findingsOf(check);
    found += findings;
    if (check.code !== 0) {
      console.log(`after the kill at ${call}, the check exited ${check.code}:\n${check.stdout}${check.stderr}`);
      const fixed = await h1.calicoctl(['diags', '--check', '--fix']);
      console.log(fixed.stdout);
      check = await checkUntilClean(h1);
    }
    expect(check).toEqual(CLEAN);
    done.push(`after ${call} (docker run exited ${result.code}; ${findings} found)`);
    // The container the engine kept (created, never started) goes without leaving anything.
    await h1.docker('rm', '-f', `victim${i}`);
    expect(await checkUntilClean(h1)).toEqual(CLEAN);
  }
  // The network still works on the restarted engine.
  await runContainer(h1, 'after-dockerd', NETWORK);
  expect(await checkUntilClean(h1)).toEqual(CLEAN);
  recordRow({
    scenario: 'kill -9 dockerd in the middle of `docker run`',
    done: `2 kills, ${done.join(', ')}; calico-node and dockerd restarted each time, then a new container`,
    lost: 0,
    findings: found,
    seconds: seconds(started),
  });
});
