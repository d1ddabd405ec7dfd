import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { cleanupDataplane, startAgent } from '../test/e2e/harness/agent';
import { CALICOCTL } from '../test/e2e/harness/cli';
import { startEtcd } from '../test/e2e/harness/etcd';
import { percentile } from './timing';
import { writeSyntheticEndpoints } from './synthetic';

/**
 * The agent at scale, small and large in the same run:
 * - incremental cost: the agent's own apply time for one rule change, with 2,000 endpoints and
 *   1,000 profiles against 20 endpoints and 20 profiles (target: at most 1.5x);
 * - full resync: start-up to "in sync" with 2,000 endpoints (target: at most 2 s);
 * - memory: the agent's RSS at 2,000 endpoints (target: at most 150 MiB).
 */
interface Result {
  readonly endpoints: number;
  readonly profiles: number;
  readonly syncMs: number;
  readonly rssMiB: number;
  readonly applyMs: number[];
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

    const applyMs: number[] = [];
    const env = { ...process.env, ...etcd.env };
    for (let i = 0; i < changes; i++) {
      const before = status().lastApply?.at;
      const add = spawnSync(CALICOCTL, ['profile', 'synthetic-0', 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', String(6000 + i)], { env, encoding: 'utf8' });
      if (add.status !== 0) throw new Error(`calicoctl failed: ${add.stderr}`);
      // The apply that wrote the rule's chain (route retries also report, with no chains).
      await waitFor(() => status().lastApply?.at !== before && (status().lastApply?.chains ?? 0) > 0, 'the apply');
      applyMs.push(status().lastApply?.durationMs ?? NaN);
    }
    return { endpoints, profiles, syncMs, rssMiB, applyMs };
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
  const median = (r: Result) => percentile(r.applyMs, 50);
  console.log(`dataplane-scale: ${changes} single-rule changes per case; apply time as the agent measures it`);
  console.log('endpoints  profiles  full sync ms  RSS MiB  apply p50 ms  apply p90 ms');
  for (const r of [small, large]) {
    console.log(
      `${String(r.endpoints).padStart(9)}  ${String(r.profiles).padStart(8)}  ${String(r.syncMs).padStart(12)}  ${r.rssMiB.toFixed(0).padStart(7)}  ${median(r).toFixed(1).padStart(12)}  ${percentile(r.applyMs, 90).toFixed(1).padStart(12)}`,
    );
  }
  console.log(`incremental cost ratio (2000 endpoints / 20 endpoints, p50): ${(median(large) / median(small)).toFixed(2)}x (target <= 1.5x)`);
  console.log(`full resync of 2000 endpoints: ${large.syncMs} ms (target <= 2000 ms); RSS ${large.rssMiB.toFixed(0)} MiB (target <= 150 MiB)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
