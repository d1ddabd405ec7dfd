import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { cleanupDataplane, startAgent } from '../test/e2e/harness/agent';
import { CALICOCTL } from '../test/e2e/harness/cli';
import { startEtcd } from '../test/e2e/harness/etcd';
import { percentile } from './timing';
import { writeSyntheticEndpoints } from './synthetic';

/**
 * The agent at scale, small and large in the same run:
 * - incremental cost: the agent's apply time for one rule change, with 2,000 endpoints and
 *   1,000 profiles against 20 endpoints and 20 profiles (target: at most 1.5x). Two figures split
 *   it, each measured at both sizes in the same run:
 *   - the agent's own work: CPU time its threads spend on the change, from the etcd event to the
 *     status report (the iptables-restore child it runs is not included);
 *   - the kernel's part: the same one-rule `iptables-restore --noflush`, run from this bare process
 *     into a scratch chain of the same filter table. nf_tables revalidates every chain reachable
 *     from INPUT/FORWARD/OUTPUT on each commit that adds a rule, so this grows with the ruleset
 *     whatever the agent does.
 * - full resync: start-up to "in sync" with 2,000 endpoints (target: at most 2 s);
 * - memory: the agent's RSS at 2,000 endpoints (target: at most 150 MiB).
 */
interface Result {
  readonly endpoints: number;
  readonly profiles: number;
  readonly syncMs: number;
  readonly rssMiB: number;
  readonly applyMs: number[];
  readonly agentCpuMs: number[];
  readonly kernelMs: number[];
}

/** CPU time of all of a process's threads, in ms, from the scheduler's nanosecond counters. */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns / 1e6;
}

/** Not ours (no `cali` prefix), so the agent never sees it; removed at the end of each case. */
const PROBE_CHAIN = 'BENCH-PROBE';

function restore(text: string): void {
  const result = spawnSync('iptables-restore', ['--noflush'], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`iptables-restore failed: ${result.stderr}`);
}

/** Wall time of a one-rule commit into the filter table as it is now, from a bare process. */
function kernelCommitMs(runs: number): number[] {
  restore(`*filter\n:${PROBE_CHAIN} - [0:0]\nCOMMIT\n`);
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const started = process.hrtime.bigint();
      restore(`*filter\n-A ${PROBE_CHAIN} -p tcp -m multiport --destination-ports ${6000 + i} -j MARK --set-xmark 0x1000000/0x1000000\nCOMMIT\n`);
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    restore(`*filter\n:${PROBE_CHAIN} - [0:0]\n-X ${PROBE_CHAIN}\nCOMMIT\n`);
  }
  return samples;
}

async function measure(endpoints: number, profiles: number, changes: number): Promise<Result> {
  const etcd = await startEtcd();
  const stateDir = mkdtempSync(join(tmpdir(), 'calico-bench-state-'));
  await writeSyntheticEndpoints(etcd, endpoints, profiles);
  const agent = await startAgent(etcd, ['--state-dir', stateDir, '--no-plugin', '--log-level', 'info']);
  try {
    const status = () => {
      try {
        return JSON.parse(readFileSync(join(stateDir, 'calico-node.json'), 'utf8')) as { lastApply?: { at: string; durationMs: number; ok: boolean; chains?: number } };
      } catch {
        return {};
      }
    };
    const waitFor = async (done: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${agent.log().slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await waitFor(() => agent.log().includes('Dataplane in sync'), 'the first sync');
    const stamp = (text: string) => Date.parse(new RegExp(`^(\\S+) INFO ${text}`, 'm').exec(agent.log())?.[1] ?? '');
    const syncMs = stamp('Dataplane in sync') - stamp('Starting calico-node');
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'));
    const rssMiB = Number(rss?.[1] ?? 0) / 1024;
    // The synthetic endpoints' interfaces never appear, so the agent looks for them again with a
    // back-off that reaches 5 s after about 6 s. Start once it has, so that what is measured
    // below is the work of each change and not that background retry.
    await new Promise((resolve) => setTimeout(resolve, 7000));

    const applyMs: number[] = [];
    const agentCpuMs: number[] = [];
    const env = { ...process.env, ...etcd.env };
    const pid = agent.child.pid as number;
    for (let i = 0; i < changes; i++) {
      const before = status().lastApply?.at;
      const cpuBefore = cpuMs(pid);
      const add = spawnSync(CALICOCTL, ['profile', 'synthetic-0', 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', String(6000 + i)], { env, encoding: 'utf8' });
      if (add.status !== 0) throw new Error(`calicoctl failed: ${add.stderr}`);
      // The apply that wrote the rule's chain (route retries also report, with no chains).
      await waitFor(() => status().lastApply?.at !== before && (status().lastApply?.chains ?? 0) > 0, 'the apply');
      applyMs.push(status().lastApply?.durationMs ?? NaN);
      agentCpuMs.push(cpuMs(pid) - cpuBefore);
    }
    const kernelMs = kernelCommitMs(changes);
    return { endpoints, profiles, syncMs, rssMiB, applyMs, agentCpuMs, kernelMs };
  } finally {
    await agent.stop();
    await cleanupDataplane();
    await etcd.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const changes = Number(process.env.RUNS ?? 20);
  const small = await measure(20, 20, changes);
  const large = await measure(2000, 1000, changes);
  const p50 = (samples: number[]) => percentile(samples, 50);
  console.log(`dataplane-scale: ${changes} single-rule changes per case`);
  console.log('endpoints  profiles  full sync ms  RSS MiB  apply p50 ms  apply p90 ms  agent CPU p50 ms  kernel commit p50 ms');
  for (const r of [small, large]) {
    console.log(
      [
        String(r.endpoints).padStart(9),
        String(r.profiles).padStart(8),
        String(r.syncMs).padStart(12),
        r.rssMiB.toFixed(0).padStart(7),
        p50(r.applyMs).toFixed(1).padStart(12),
        percentile(r.applyMs, 90).toFixed(1).padStart(12),
        p50(r.agentCpuMs).toFixed(2).padStart(16),
        p50(r.kernelMs).toFixed(1).padStart(20),
      ].join('  '),
    );
  }
  const ratio = (pick: (r: Result) => number[]) => (p50(pick(large)) / p50(pick(small))).toFixed(2);
  console.log(`incremental cost ratio (2000 endpoints / 20 endpoints, p50 apply time as the agent measures it): ${ratio((r) => r.applyMs)}x (target <= 1.5x)`);
  console.log(`  the agent's own CPU work per change: ${ratio((r) => r.agentCpuMs)}x`);
  console.log(`  the kernel's one-rule commit into the same filter table, from a bare process: ${ratio((r) => r.kernelMs)}x`);
  console.log(`full resync of 2000 endpoints: ${large.syncMs} ms (target <= 2000 ms); RSS ${large.rssMiB.toFixed(0)} MiB (target <= 150 MiB)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
