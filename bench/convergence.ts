import { type ChildProcess, spawn, spawnSync } from 'child_process';
import { cleanupDataplane, startAgent } from '../test/e2e/harness/agent';
import { CALICOCTL } from '../test/e2e/harness/cli';
import { cleanupDocker, docker, ensureDocker, ensureTestImage, uniqueName } from '../test/e2e/harness/docker';
import { containerEndpoint, diagnoseDataplane } from '../test/e2e/harness/diagnose';
import { etcdctl, startEtcd } from '../test/e2e/harness/etcd';
import { profileChain } from '../src/agent/dataplane/contract';
import { writeSyntheticEndpoints } from './synthetic';
import { percentile } from './timing';

/**
 * Convergence: the time from `calicoctl … rule add` returning to the first packet the new rule lets
 * through, over 50 changes, with 10 and with 500 endpoints (synthetic ones in etcd for the large
 * case). Target: p50 <= 100 ms, p99 <= 300 ms. When a probe never gets the expected answer, it
 * prints what the kernel has for the client and server (route, neighbour, proxy ARP, rules, sets)
 * and the agent's log, then fails.
 *
 * A prober in the client container opens a TCP connection to the server every few milliseconds
 * (giving up on each after 50 ms) and prints the time of each attempt and whether it connected;
 * host and container share one clock, so its timestamps compare with the bench's own.
 */
const PROBER = `
const net = require('net');
const [ip, port] = process.argv.slice(1);
const report = (ok) => { process.stdout.write(ok + ' ' + Date.now() + '\\n'); setTimeout(attempt, 2); };
function attempt() {
  const socket = net.connect({ host: ip, port: Number(port) });
  const timer = setTimeout(() => { socket.destroy(); report(0); }, 50);
  socket.once('connect', () => { clearTimeout(timer); socket.destroy(); report(1); });
  socket.once('error', () => { clearTimeout(timer); report(0); });
}
attempt();
`;

async function measure(endpoints: number, changes: number, nodeImage: string): Promise<number[]> {
  const [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  const image = await ensureTestImage();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.67.0.0-16', '{"cidr":"10.67.0.0/16"}');
  if (endpoints > 10) await writeSyntheticEndpoints(etcd, endpoints - 2, 100);
  const agent = await startAgent(etcd, ['--log-level', 'info']);
  const servers = uniqueName('conv-servers');
  const clients = uniqueName('conv-clients');
  const server = uniqueName('conv-server');
  const client = uniqueName('conv-client');
  let prober: ChildProcess | undefined;
  try {
    for (const name of [servers, clients]) await mustDocker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', name);
    await mustDocker('run', '-d', '--name', server, '--net', servers, image, 'sh', '-c', 'httpd -p 8080 -h /www && exec sleep 86400');
    const ip = /inet (\S+)\//.exec((await mustDocker('exec', server, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'cali0')).stdout)?.[1];
    if (!ip) throw new Error('no server address');

    const events: { ok: boolean; at: number }[] = [];
    prober = spawn('docker', ['run', '--rm', '--name', client, '--net', clients, '--entrypoint', '/usr/local/bin/node', nodeImage, '-e', PROBER, ip, '8080']);
    let buffer = '';
    let proberErrors = '';
    prober.stderr?.on('data', (chunk: Buffer) => (proberErrors += chunk.toString()));
    prober.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [ok, at] = line.split(' ');
        events.push({ ok: ok === '1', at: Number(at) });
      }
    });
    const env = { ...process.env, ...etcd.env };
    const calicoctl = (...args: string[]) => {
      const result = spawnSync(CALICOCTL, args, { env, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`calicoctl ${args.join(' ')}: ${result.stderr}`);
    };
    const waitFor = async (ok: boolean, after: number, what: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const hit = events.find((e) => e.at >= after && e.ok === ok);
        if (hit) return hit.at;
        if (Date.now() > deadline) {
          const networkId = (await mustDocker('network', 'inspect', '-f', '{{.Id}}', servers)).stdout.trim();
          const diagnosis = diagnoseDataplane([containerEndpoint(client), containerEndpoint(server)], agent.log(), [profileChain(networkId, 'inbound')]);
          throw new Error(`${endpoints} endpoints, ${what}: no ${ok ? 'successful' : 'failed'} probe within 10 s (${events.length} probes seen${proberErrors ? `; the prober said: ${proberErrors.trim()}` : ''})\n${diagnosis}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    await waitFor(false, 0, 'before the first rule'); // the prober runs, and is blocked
    const rule = ['inbound', 'allow', 'tcp', 'from', 'tag', clients, 'to', 'ports', '8080'];
    const latencies: number[] = [];
    for (let i = 0; i < changes; i++) {
      calicoctl('profile', servers, 'rule', 'add', ...rule);
      const returned = Date.now();
      latencies.push(Math.max(0, (await waitFor(true, returned, `after rule add ${i + 1}`)) - returned));
      calicoctl('profile', servers, 'rule', 'remove', ...rule);
      await waitFor(false, Date.now(), `after rule remove ${i + 1}`);
      events.length = 0;
    }
    return latencies;
  } finally {
    prober?.kill();
    await docker('rm', '-f', client);
    await cleanupDocker({ containers: [server], networks: [servers, clients] });
    await agent.stop();
    await cleanupDataplane();
    await etcd.stop();
  }
}

async function mustDocker(...args: string[]): Promise<{ stdout: string }> {
  const result = await docker(...args);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result;
}

async function main(): Promise<void> {
  const changes = Number(process.env.RUNS ?? 50);
  const nodeImage = process.argv[2] as string;
  console.log(`convergence: ${changes} rule changes per case, from 'calicoctl … rule add' returning to the first packet through`);
  console.log('endpoints   p50 ms   p99 ms   max ms');
  const sizes = process.env.ENDPOINTS ? process.env.ENDPOINTS.split(',').map(Number) : [10, 500];
  for (const endpoints of sizes) {
    const latencies = await measure(endpoints, changes, nodeImage);
    console.log(
      `${String(endpoints).padStart(9)}  ${percentile(latencies, 50).toFixed(0).padStart(7)}  ${percentile(latencies, 99).toFixed(0).padStart(7)}  ${Math.max(...latencies).toFixed(0).padStart(7)}`,
    );
  }
  console.log('target: p50 <= 100 ms, p99 <= 300 ms');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
