import * as path from 'path';
import { etcdctl, startEtcd } from '../test/e2e/harness/etcd';
import { report, timeCommands } from './timing';

/**
 * How long `calicoctl profile databases rule show` takes against a local etcd, next to bare
 * `node -e 0` and `etcdctl get` of the same key, measured in the same run. Target: at most 1.6x
 * `node -e 0`.
 */
async function main(): Promise<void> {
  const runs = Number(process.env.RUNS ?? 40);
  const etcd = await startEtcd();
  const calicoctl = path.resolve(__dirname, '../../bin/calicoctl');
  const env = { ...process.env, ...etcd.env };
  try {
    await etcdctl(etcd, 'put', '/calico/v1/policy/profile/databases/tags', '["databases"]');
    await etcdctl(
      etcd,
      'put',
      '/calico/v1/policy/profile/databases/rules',
      '{"inbound_rules":[{"action":"allow","src_tag":"databases"},{"action":"allow","protocol":"tcp","src_tag":"applications","dst_ports":[3306]}],"outbound_rules":[{"action":"allow"}]}',
    );
    const timings = timeCommands(
      [
        { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
        { label: 'etcdctl get', argv: ['etcdctl', `--endpoints=${etcd.endpoint}`, 'get', '/calico/v1/policy/profile/databases/rules'], env: { PATH: process.env.PATH, ETCDCTL_API: '3' } },
        { label: 'calicoctl profile databases rule show', argv: [calicoctl, 'profile', 'databases', 'rule', 'show'], env },
        { label: 'calicoctl version --client', argv: [calicoctl, 'version', '--client'], env },
      ],
      runs,
    );
    console.log(`cli-latency: ${runs} runs each, interleaved, etcd ${etcd.endpoint}`);
    report(timings, 'node -e 0');
  } finally {
    await etcd.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
