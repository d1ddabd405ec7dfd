import { writeSyntheticEndpoints } from '../../bench/synthetic';
import { profileChain } from '../../src/agent/dataplane/contract';
import { type AgentProcess, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { containerEndpoint, diagnoseDataplane } from './harness/diagnose';
import { docker, ensureDocker, ensureTestImage, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { tearDownHost } from './harness/teardown';

/**
 * bench/convergence's large case, many times over: 498 synthetic endpoints (in etcd, without
 * interfaces, so their routes stay pending and the agent keeps retrying them) plus a real server
 * and a real client. Each round starts a new client container, adds the rule that lets it reach
 * the server, checks with real packets that they get through, removes the rule and checks that
 * they are dropped again.
 *
 * A new container is where it went wrong: the plugin creates the host veth (Docker's Join) while
 * the agent's route retry runs, and the agent used to record the route as programmed after finding
 * the interface on a second look, having skipped it on the first. The client then never got its
 * route, neighbour entry or proxy ARP, and no rule could let its packets through.
 *
 * CONVERGENCE_ROUNDS=N changes the number of rounds (default 30; about 3 s each).
 */
jest.setTimeout(240_000);

const ROUNDS = Number(process.env.CONVERGENCE_ROUNDS ?? 30);
const SYNTHETIC = 498;
/** How long a rule change (or a new container) may take to show in the verdict. */
const CONVERGE_MS = 10_000;
const CREATE_NETWORK = ['network', 'create', '--driver', 'calico', '--ipam-driver', 'calico'];

let etcd: EtcdServer;
let agent: AgentProcess;
let image: string;
const containers: string[] = [];
const networks: string[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function mustDocker(...args: string[]): Promise<string> {
  const result = await docker(...args);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

async function ctl(...args: string[]): Promise<void> {
  const result = await calicoctl(args, etcd.env);
  if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')}: ${result.stderr}`);
}

/** One bounded probe: an HTTP request over TCP, allowed iff the answer arrives within a second. */
async function reaches(client: string, ip: string): Promise<boolean> {
  const result = await docker('exec', client, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ip} 8080`);
  return result.stdout.includes('200 OK');
}

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.68.0.0-16', '{"cidr":"10.68.0.0/16"}');
  await writeSyntheticEndpoints(etcd, SYNTHETIC, 100);
  // As the benchmark runs it: at info, where the failure showed (debug logging changed the timing).
  agent = await startAgent(etcd, ['--log-level', 'info']);
}, 120_000);

afterAll(() => tearDownHost({ containers, networks, agent, etcd }), 120_000);

it(`with ${SYNTHETIC + 2} endpoints, a rule added for a new container lets its packets through, ${ROUNDS} times in a row`, async () => {
  const servers = uniqueName('conv-servers');
  const clients = uniqueName('conv-clients');
  for (const name of [servers, clients]) {
    await mustDocker(...CREATE_NETWORK, name);
    networks.push(name);
  }
  const serversId = await mustDocker('network', 'inspect', '-f', '{{.Id}}', servers);
  const server = uniqueName('conv-server');
  containers.push(server);
  await mustDocker('run', '-d', '--name', server, '--net', servers, image, 'sh', '-c', 'httpd -p 8080 -h /www && exec sleep 86400');
  const serverIp = containerEndpoint(server).ip;
  const rule = ['inbound', 'allow', 'tcp', 'from', 'tag', clients, 'to', 'ports', '8080'];

  const latencies: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const client = uniqueName('conv-client');
    containers.push(client);
    await mustDocker('run', '-d', '--name', client, '--net', clients, image, 'sh', '-c', 'exec sleep 86400');
    const until = async (want: boolean, what: string): Promise<number> => {
      const started = Date.now();
      while ((await reaches(client, serverIp)) !== want) {
        if (Date.now() - started > CONVERGE_MS) {
          const diagnosis = diagnoseDataplane([containerEndpoint(client), containerEndpoint(server)], agent.log(), [profileChain(serversId, 'inbound')]);
          throw new Error(`round ${round}, ${what}: packets still ${want ? 'dropped' : 'allowed'} after ${CONVERGE_MS / 1000} s\n${diagnosis}`);
        }
        await sleep(20);
      }
      return Date.now() - started;
    };
    await ctl('profile', servers, 'rule', 'add', ...rule);
    latencies.push(await until(true, 'after rule add'));
    await ctl('profile', servers, 'rule', 'remove', ...rule);
    await until(false, 'after rule remove');
    await mustDocker('rm', '-f', '-v', client);
    containers.splice(containers.indexOf(client), 1);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`${ROUNDS} rounds: first packet through after rule add (with docker exec's overhead): median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms`);
});
