import * as path from 'path';
import { startEtcd } from '../test/e2e/harness/etcd';
import { percentile, report, timeCommands } from './timing';
import { syntheticEndpoint, writeSyntheticEndpoints } from './synthetic';

/**
 * `calicoctl policy trace` on 2,000 endpoints and 1,000 profiles, next to `calicoctl profile X
 * rule show` on the same etcd, measured in the same run. Target: at most 1.6x rule show. Exits 1
 * when the target fails.
 */
const ENDPOINTS = 2000;
const PROFILES = 1000;
const TARGET = 1.6;

async function main(): Promise<void> {
  const runs = Number(process.env.RUNS ?? 30);
  const etcd = await startEtcd();
  const calicoctl = path.resolve(__dirname, '../../bin/calicoctl');
  // No Docker: the words are addresses and endpoint IDs, which the trace resolves from etcd alone.
  const env = { ...process.env, ...etcd.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  try {
    await writeSyntheticEndpoints(etcd, ENDPOINTS, PROFILES);
    const address = (e: number) => (syntheticEndpoint(e, PROFILES).value.ipv4_nets[0] as string).split('/')[0] as string;
    // Endpoints 1 and 1001 share profile synthetic-1 (allowed on tcp 5000); endpoint 2 is in another (dropped).
    const ruleShow = { label: 'calicoctl profile synthetic-1 rule show', argv: [calicoctl, 'profile', 'synthetic-1', 'rule', 'show'], env };
    const trace = { label: 'calicoctl policy trace (allowed)', argv: [calicoctl, 'policy', 'trace', address(1001), address(1), 'tcp', '5000'], env };
    const byId = { label: 'calicoctl policy trace <endpoint ID> (allowed)', argv: [calicoctl, 'policy', 'trace', syntheticEndpoint(1001, PROFILES).id, address(1), 'tcp', '5000'], env };
    const timings = timeCommands([ruleShow, trace, byId], runs);
    console.log(`policy-trace: ${ENDPOINTS} endpoints, ${PROFILES} profiles, ${runs} runs each, interleaved, etcd ${etcd.endpoint}`);
    report(timings, ruleShow.label);
    const base = percentile(timings[0]!.samples, 50);
    let failed = false;
    for (const timing of timings.slice(1)) {
      const ratio = percentile(timing.samples, 50) / base;
      const pass = ratio <= TARGET;
      failed ||= !pass;
      console.log(`${timing.label}: ${ratio.toFixed(2)}x rule show (target <= ${TARGET}x): ${pass ? 'PASS' : 'FAIL'}`);
    }
    if (failed) process.exitCode = 1;
  } finally {
    await etcd.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
