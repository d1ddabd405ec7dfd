/**
 * The advanced-policy tutorial (Calico as a Docker network plugin), run for real: etcd, Docker, the Calico node, the two
 * networks, the 3306 rule, and containers whose connections are tried before and after the rule.
 * Prints each step, the command it runs and its output, then a matrix of what was allowed and
 * dropped. Exits non-zero if any connection did not get the verdict the tutorial promises.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { docker, ensureDocker, ensureTestImage } from '../test/e2e/harness/docker';

const ROOT = path.resolve(__dirname, '../..');
const CALICOCTL = path.join(ROOT, 'bin/calicoctl');
const KEEP = process.argv.includes('--keep');
const TUTORIAL_ETCD_DIR = '/var/lib/calicoctl-tutorial/etcd';
const CONTAINERS = ['db1', 'db2', 'app1', 'other1'];
const NETWORKS = ['databases', 'applications', 'other'];

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const bold = (text: string) => (tty ? `\x1b[1m${text}\x1b[0m` : text);
const green = (text: string) => (tty ? `\x1b[32m${text}\x1b[0m` : text);
const red = (text: string) => (tty ? `\x1b[31m${text}\x1b[0m` : text);
let stepNumber = 0;

function step(title: string, explanation?: string): void {
  stepNumber++;
  console.log(`\n${bold(`Step ${stepNumber}: ${title}`)}`);
  if (explanation) console.log(explanation);
}

/** Runs a command the way the tutorial shows it: `$ command`, then its output. */
function show(argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const display = argv.map((word, i) => (i === 0 && word === CALICOCTL ? 'calicoctl' : word)).join(' ');
  console.log(`$ ${display}`);
  // Progress on stderr streams as it happens; the output the tutorial shows follows it.
  const result = spawnSync(argv[0] as string, argv.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(result.stdout);
  if (result.status !== 0) throw new Error(`'${display}' failed with exit code ${result.status}`);
  return result.stdout;
}

function quiet(argv: string[]): { code: number; stdout: string } {
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
  return { code: result.status ?? 1, stdout: result.stdout };
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Uses the etcd the user configured, or one already on 127.0.0.1:2379, or starts one there. */
async function ensureEtcd(): Promise<{ started: boolean; stop(): void }> {
  if (process.env.ETCD_ENDPOINTS || process.env.ETCD_AUTHORITY) {
    console.log(`Using the etcd configured in ${process.env.ETCD_ENDPOINTS ? 'ETCD_ENDPOINTS' : 'ETCD_AUTHORITY'}.`);
    return { started: false, stop() {} };
  }
  if (await portOpen(2379)) {
    console.log('Using the etcd already listening on 127.0.0.1:2379.');
    return { started: false, stop() {} };
  }
  fs.mkdirSync(TUTORIAL_ETCD_DIR, { recursive: true });
  const args = [
    '--name', 'calico-tutorial', '--data-dir', TUTORIAL_ETCD_DIR,
    '--listen-client-urls', 'http://127.0.0.1:2379', '--advertise-client-urls', 'http://127.0.0.1:2379',
    '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
    '--initial-cluster', 'calico-tutorial=http://127.0.0.1:2380',
  ];
  console.log(`$ etcd ${args.join(' ')} &`);
  const log = fs.openSync('/var/log/calicoctl-tutorial-etcd.log', 'a');
  const child = spawn('etcd', args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  for (let i = 0; i < 100 && !(await portOpen(2379)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await portOpen(2379))) throw new Error('etcd did not start: see /var/log/calicoctl-tutorial-etcd.log');
  return {
    started: true,
    stop() {
      try {
        process.kill(child.pid as number, 'SIGTERM');
      } catch {
        // already gone
      }
      fs.rmSync(TUTORIAL_ETCD_DIR, { recursive: true, force: true });
    },
  };
}

async function startNode(): Promise<void> {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  if (quiet(['docker', 'image', 'inspect', `calicoctl/calico-node:${version}`]).code !== 0) {
    console.log('Building the calico-node image from this host\'s binaries (no registry needed):');
    show([path.join(ROOT, 'scripts/build-node-image')]);
  }
  show([CALICOCTL, 'node', '--no-pull']);
}

/** Stops the node and removes what its agent programmed (the agent alone leaves it, fail static). */
function stopNode(): void {
  quiet([CALICOCTL, 'node', 'stop', '--force']);
  quiet([path.join(ROOT, 'bin/calico-node'), '--cleanup', '--log-level', 'warning']);
}

function removeLeftovers(): void {
  for (const name of CONTAINERS) quiet(['docker', 'rm', '-f', name]);
  for (const name of NETWORKS) quiet(['docker', 'network', 'rm', name]);
}

interface Probe {
  readonly from: string;
  readonly to: string;
  readonly what: 'tcp 3306' | 'tcp 8080' | 'ping';
}

const PROBES: Probe[] = ['app1', 'db2', 'other1'].flatMap((from) =>
  (['tcp 3306', 'tcp 8080', 'ping'] as const).map((what) => ({ from, to: 'db1', what })),
);

function address(container: string): string {
  const out = quiet(['docker', 'exec', container, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'cali0']).stdout;
  const match = /inet (\d+\.\d+\.\d+\.\d+)/.exec(out);
  if (!match) throw new Error(`${container} has no Calico address`);
  return match[1] as string;
}

/** True when the connection got through: an HTTP answer, or a ping reply. */
function probe(p: Probe, target: string): boolean {
  if (p.what === 'ping') return quiet(['docker', 'exec', p.from, 'ping', '-c', '1', '-W', '1', target]).code === 0;
  const port = p.what.split(' ')[1] as string;
  const out = quiet(['docker', 'exec', p.from, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${target} ${port}`]).stdout;
  return out.includes('200 OK');
}

function matrix(title: string, expected: (p: Probe) => boolean): boolean {
  const target = address('db1');
  console.log(`\n${title} (connections to db1 at ${target}):`);
  const columns = ['tcp 3306', 'tcp 8080', 'ping'];
  console.log(`  ${'from'.padEnd(22)}${columns.map((c) => c.padEnd(12)).join('')}`);
  let ok = true;
  for (const from of ['app1', 'db2', 'other1']) {
    const network = from === 'app1' ? 'applications' : from === 'db2' ? 'databases' : 'other';
    const cells = columns.map((what) => {
      const p = PROBES.find((x) => x.from === from && x.what === what) as Probe;
      const allowed = probe(p, target);
      const right = allowed === expected(p);
      ok &&= right;
      const word = (allowed ? 'allowed' : 'dropped').padEnd(12);
      return right ? (allowed ? green(word) : word) : red(`${word.trim()}(!)`.padEnd(12));
    });
    console.log(`  ${`${from} (${network})`.padEnd(22)}${cells.join('')}`);
  }
  if (!ok) console.log(red('  (!) differs from what the tutorial promises'));
  return ok;
}

async function main(): Promise<void> {
  console.log(bold('Calico policy for Docker networks: the advanced-policy tutorial, on this host'));
  step('Start etcd, Docker and the Calico node');
  const etcd = await ensureEtcd();
  await ensureDocker();
  const image = await ensureTestImage();
  removeLeftovers();
  await startNode();
  let ok = true;
  try {
    step('Create a Docker network', 'A network made with the calico driver becomes a Calico profile.');
    show(['docker', 'network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'databases']);

    step('View the policy associated with the network');
    show([CALICOCTL, 'profile', 'databases', 'rule', 'show']);

    step('Create the applications network, and a third one for comparison');
    show(['docker', 'network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'applications']);
    show(['docker', 'network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'other']);

    step('Start containers', 'db1 and db2 listen on TCP 3306 and 8080; app1 and other1 are clients.');
    const listen = 'httpd -p 3306 -h /www && httpd -p 8080 -h /www && exec sleep 86400';
    for (const [name, network] of [['db1', 'databases'], ['db2', 'databases'], ['app1', 'applications'], ['other1', 'other']]) {
      const result = await docker('run', '-d', '--name', name as string, '--net', network as string, image, 'sh', '-c', listen);
      if (result.code !== 0) throw new Error(`docker run ${name} failed: ${result.stderr}`);
      console.log(`$ docker run -d --name ${name} --net ${network} ${image} sh -c '${listen}'`);
    }
    ok = matrix('Before the rule', (p) => p.from === 'db2') && ok;

    step('Configure the network policy', 'Allow TCP 3306 into the databases from the applications.');
    show([CALICOCTL, 'profile', 'databases', 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', 'applications', 'to', 'ports', '3306']);
    show([CALICOCTL, 'profile', 'databases', 'rule', 'show']);
    ok = matrix('After the rule', (p) => p.from === 'db2' || (p.from === 'app1' && p.what === 'tcp 3306')) && ok;
  } finally {
    if (!KEEP) {
      step('Clean up', 'Containers, networks, the node, its iptables rules and (if this run started it) etcd are removed. Use --keep to keep them.');
      removeLeftovers();
      stopNode();
      if (etcd.started) etcd.stop();
    }
  }
  console.log(`\n${ok ? green('Every connection got the verdict the tutorial promises.') : red('Some connections did not get the promised verdict.')}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(red(`Tutorial failed: ${(error as Error).message}`));
  process.exitCode = 1;
});
