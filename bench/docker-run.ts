import { cleanupDataplane, startAgent } from '../test/e2e/harness/agent';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, uniqueName } from '../test/e2e/harness/docker';
import { etcdctl, startEtcd } from '../test/e2e/harness/etcd';
import { report, timeCommands } from './timing';

/**
 * `docker run --rm --net <calico network> <image> true` against the same on a network of Docker's
 * own bridge driver, in the same run. Target: at most 1.3x.
 */
async function main(): Promise<void> {
  const runs = Number(process.env.RUNS ?? 20);
  const [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  const image = await ensureTestImage();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.66.0.0-16', '{"cidr":"10.66.0.0/16"}');
  const agent = await startAgent(etcd);
  const calico = uniqueName('bench-calico');
  const bridge = uniqueName('bench-bridge');
  try {
    for (const [name, args] of [[calico, ['--driver', 'calico', '--ipam-driver', 'calico']], [bridge, ['--driver', 'bridge']]] as const) {
      const created = await docker('network', 'create', ...args, name);
      if (created.code !== 0) throw new Error(`docker network create ${name}: ${created.stderr}`);
    }
    const timings = timeCommands(
      [
        { label: 'docker run --net <bridge network>', argv: ['docker', 'run', '--rm', '--net', bridge, image, 'true'] },
        { label: 'docker run --net <calico network>', argv: ['docker', 'run', '--rm', '--net', calico, image, 'true'] },
      ],
      runs,
      2,
    );
    console.log(`docker-run: ${runs} runs each, interleaved`);
    report(timings, 'docker run --net <bridge network>');
  } finally {
    await cleanupDocker({ networks: [calico, bridge] });
    await agent.stop();
    await cleanupDataplane();
    await etcd.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
