import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cleanupDataplane } from './harness/agent';
import { calicoctl, type CliResult, ROOT } from './harness/cli';
import { docker, ensureDocker, ensureNodeBaseImage, ensureTestImage, uniqueName } from './harness/docker';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { settlesAs } from './harness/poll';

jest.setTimeout(300_000);

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = `calicoctl/calico-node:${VERSION}`;
const HOSTNAME = `ct-node-${process.pid}`;
const HOST_IP = Object.entries(os.networkInterfaces())
  .filter(([name]) => !/^(lo|docker|cali|veth|br-)/.test(name))
  .flatMap(([, list]) => list ?? [])
  .find((a) => a.family === 'IPv4')?.address as string;

let etcd: EtcdServer;
let image: string;
let logDir: string;

beforeAll(async () => {
  [etcd] = await Promise.all([startEtcd(), ensureDocker()]);
  image = await ensureTestImage();
  execFileSync(path.join(ROOT, 'scripts/build-node-image'), [IMAGE], { stdio: 'ignore' });
  await etcdctl(etcd, 'put', '/calico/v1/ipam/v4/pool/10.68.0.0-16', '{"cidr":"10.68.0.0/16"}');
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-node-logs-'));
});

// A test that fails half-way must not leave its node running: the next test would find it.
afterEach(async () => {
  await run('node', 'stop', '--force');
});

afterAll(async () => {
  await run('node', 'stop', '--force');
  await cleanupDataplane();
  await etcd?.stop();
  fs.rmSync(logDir, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ ...etcd.env, HOSTNAME, NO_DEFAULT_POOLS: 'true' });
const run = (...args: string[]): Promise<CliResult> => calicoctl(args, env());

async function must(...args: string[]): Promise<string> {
  const result = await run(...args);
  if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function mustDocker(...args: string[]): Promise<string> {
  const result = await docker(...args);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function reachable(from: string, ip: string, port: number): Promise<boolean> {
  const result = await docker('exec', from, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ip} ${port}`);
  return result.stdout.includes('200 OK');
}

const eventually = (check: () => Promise<boolean>, want: boolean) => settlesAs(check, want, 15, 200);

/** The tutorial, on whatever agent is running: networks, rule show, the 3306 rule, and packets. */
async function tutorial(): Promise<void> {
  const databases = uniqueName('databases');
  const applications = uniqueName('applications');
  const db = uniqueName('db');
  const app = uniqueName('app');
  try {
    await mustDocker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', databases);
    expect(await must('profile', databases, 'rule', 'show')).toBe(`Inbound rules:\n   1 allow from tag ${databases}\nOutbound rules:\n   1 allow\n`);
    await mustDocker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', applications);
    const listen = 'httpd -p 3306 -h /www && httpd -p 8080 -h /www && exec sleep 86400';
    await mustDocker('run', '-d', '--name', db, '--net', databases, image, 'sh', '-c', listen);
    await mustDocker('run', '-d', '--name', app, '--net', applications, image, 'sleep', '86400');
    const ip = /inet (\S+)\//.exec(await mustDocker('exec', db, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'cali0'))?.[1] as string;
    expect(await eventually(() => reachable(app, ip, 3306), false)).toBe(false);

    await must('profile', databases, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', applications, 'to', 'ports', '3306');
    expect(await must('profile', databases, 'rule', 'show')).toBe(
      `Inbound rules:\n   1 allow from tag ${databases}\n   2 allow tcp from tag ${applications} to ports 3306\nOutbound rules:\n   1 allow\n`,
    );
    expect(await eventually(() => reachable(app, ip, 3306), true)).toBe(true);
    expect(await reachable(app, ip, 8080)).toBe(false);
  } finally {
    // One at a time: Docker 20.10 miscounts a network's endpoints when they go in parallel.
    for (const container of [db, app]) await docker('rm', '-f', container);
    for (const network of [databases, applications]) await docker('network', 'rm', network);
  }
}

async function nodeContainerRunning(): Promise<boolean> {
  const result = await docker('inspect', '-f', '{{.State.Running}}', 'calico-node');
  return result.code === 0 && result.stdout.trim() === 'true';
}

describe('calicoctl node --runtime=docker', () => {
  it('starts the agent as a container, runs the tutorial, and stops', async () => {
    const start = await run('node', '--no-pull', `--log-dir=${logDir}`, `--ip=${HOST_IP}`);
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^Calico node is running with id: [0-9a-f]{12}\n$/);
    expect(await nodeContainerRunning()).toBe(true);
    const inspect = JSON.parse(await mustDocker('inspect', 'calico-node'))[0];
    expect(inspect.HostConfig.Privileged).toBe(false);
    expect(inspect.HostConfig.CapAdd.sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(inspect.HostConfig.NetworkMode).toBe('host');
    expect(inspect.HostConfig.RestartPolicy.Name).toBe('always');
    // The plugin inside asks the engine whether it has a cluster store (scope global or local).
    expect(inspect.HostConfig.Binds).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(inspect.Config.Env).toEqual(expect.arrayContaining(['CALICO_NETWORKING_BACKEND=bird', 'AS=']));

    const again = await run('node', '--no-pull', `--log-dir=${logDir}`, `--ip=${HOST_IP}`);
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining('already running') });
    const other = await run('node', '--no-pull', `--log-dir=${logDir}`, `--ip=${HOST_IP}`, '--node-image=other/image:1');
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("Run 'calicoctl node stop'");

    expect((await etcdctl(etcd, 'get', '--print-value-only', `/calico/v1/host/${HOSTNAME}/bird_ip`)).trim()).toBe(HOST_IP);
    expect((await etcdctl(etcd, 'get', '--print-value-only', '/calico/v1/Ready')).trim()).toBe('true');

    const status = await run('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^calico-node is running as a container/);
    expect(status.stdout).toContain(`\nIPv4 BGP status\nIP: ${HOST_IP}    AS Number: 64511 (inherited)\n`);
    expect(status.stdout).toMatch(/Dataplane: last applied at .* \(ok, \d+(\.\d)? ms\)\./);

    await tutorial();

    expect(await must('node', 'stop')).toBe('Node stopped\n');
    expect((await docker('inspect', 'calico-node')).code).not.toBe(0);
    const stopped = await run('status');
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toMatch(/^calico-node is not running\./);
  });

  it('refuses a missing image with --no-pull, in one line', async () => {
    const result = await run('node', '--no-pull', '--node-image=calicoctl/absent:0', `--ip=${HOST_IP}`);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').pop()).toBe('The image calicoctl/absent:0 is not on this host and --no-pull was given. Build it offline with scripts/build-node-image.');
    expect(await nodeContainerRunning()).toBe(false);
  });
});

describe('the image from packaging/Dockerfile', () => {
  it('builds on a Debian 12 + Node.js 20 base and runs as the node, programming the host', async () => {
    const base = await ensureNodeBaseImage();
    const packaged = `calicoctl-test/calico-node-packaged:${VERSION}`;
    const previous = (await docker('image', 'inspect', '--format', '{{.Id}}', packaged)).stdout.trim();
    const build = await docker('build', '-q', '--build-arg', `BASE=${base}`, '-f', path.join(ROOT, 'packaging/Dockerfile'), '-t', packaged, ROOT);
    expect(build.code).toBe(0);
    // Kept for the build cache next time; the one it replaces is removed (with the layers only it has).
    if (previous && previous !== build.stdout.trim()) await docker('rmi', previous);
    // The image's iptables must write the same (nf_tables) tables as the host's.
    expect((await mustDocker('run', '--rm', '--entrypoint', 'iptables', packaged, '--version')).trim()).toMatch(/^iptables v1\.8\.\d+ \(nf_tables\)$/);

    const start = await run('node', '--no-pull', `--node-image=${packaged}`, `--log-dir=${logDir}`, `--ip=${HOST_IP}`);
    expect(start.code).toBe(0);
    expect(await nodeContainerRunning()).toBe(true);
    const status = await run('status');
    expect(status.stdout).toContain(`image ${packaged}`);
    expect(status.stdout).toMatch(/Dataplane: last applied at .* \(ok, \d+(\.\d)? ms\)\./);
    expect(execFileSync('iptables', ['-S', 'FORWARD'], { encoding: 'utf8' }).split('\n')[1]).toBe('-A FORWARD -j cali-FORWARD');
    expect(await must('node', 'stop')).toBe('Node stopped\n');
  });
});

describe('calicoctl node --runtime=process', () => {
  it('starts the agent as a host process, runs the tutorial, and stops', async () => {
    const start = await run('node', '--runtime=process', `--log-dir=${logDir}`, `--ip=${HOST_IP}`);
    expect(start.code).toBe(0);
    const pid = Number(/process (\d+)/.exec(start.stdout)?.[1]);
    expect(fs.readFileSync('/var/run/calico/calico-node.pid', 'utf8').trim()).toBe(String(pid));
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(await run('node', '--runtime=process', `--log-dir=${logDir}`, `--ip=${HOST_IP}`)).toMatchObject({ code: 0, stdout: expect.stringContaining('already running') });
    expect((await run('status')).stdout).toMatch(/^calico-node is running as a host process \(process \d+/);

    await tutorial();

    expect(await must('node', 'stop')).toBe('Node stopped\n');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(fs.existsSync('/var/run/calico/calico-node.pid')).toBe(false);
    expect(fs.readFileSync(path.join(logDir, 'calico-node.log'), 'utf8')).toContain('Calico node started successfully');
  });

  it('refuses to stop while this host has endpoints, unless --force', async () => {
    await etcdctl(etcd, 'put', `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/e1`, '{"state":"active","name":"calie1","mac":"EE:EE:EE:EE:EE:EE","profile_ids":[],"ipv4_nets":[],"ipv6_nets":[],"labels":{}}');
    try {
      await must('node', '--runtime=process', `--log-dir=${logDir}`, `--ip=${HOST_IP}`);
      const refused = await run('node', 'stop');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^Current host has active endpoints so can't be stopped\.  Force with --force/);
      expect(await must('node', 'stop', '--force')).toBe('Node stopped\n');
    } finally {
      await etcdctl(etcd, 'del', `/calico/v1/host/${HOSTNAME}/workload/libnetwork/libnetwork/endpoint/e1`);
    }
  });
});

describe('calicoctl node over mutual TLS with a password', () => {
  let secure: EtcdServer | undefined;
  afterAll(async () => {
    await secure?.stop();
  });

  it.each(['docker', 'process'])('--runtime=%s: the agent reads etcd through the certificates it was given, and stops', async (runtime) => {
    secure ??= await startEtcd({ tls: true, auth: { username: 'calico', password: 'calico-pw' } });
    const tlsEnv = { ...secure.env, HOSTNAME, NO_DEFAULT_POOLS: 'true' };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-node-tls-logs-'));
    try {
      const start = await calicoctl(['node', `--runtime=${runtime}`, '--no-pull', `--log-dir=${dir}`, `--ip=${HOST_IP}`], tlsEnv);
      expect(start).toMatchObject({ code: 0 });
      // Ready is written by the agent itself, over TLS, with the password.
      const deadline = Date.now() + 60_000;
      while ((await etcdctl(secure, 'get', '--print-value-only', '/calico/v1/Ready')).trim() !== 'true') {
        if (Date.now() > deadline) throw new Error(`the agent never wrote Ready:\n${fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const status = await calicoctl(['status'], tlsEnv);
      expect(status.code).toBe(0);
      if (runtime === 'docker') {
        const binds = (JSON.parse(await mustDocker('inspect', 'calico-node'))[0] as { HostConfig: { Binds: string[] } }).HostConfig.Binds;
        expect(binds).toEqual(expect.arrayContaining([`${secure.certs!.ca}:/etc/calico/certs/ca_cert.crt:ro`]));
      }
      expect(await calicoctl(['node', 'stop'], tlsEnv)).toMatchObject({ code: 0, stdout: 'Node stopped\n' });
    } finally {
      await calicoctl(['node', 'stop', '--force'], tlsEnv);
      await etcdctl(secure, 'del', '/calico/v1/Ready');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('calicoctl node remove, node show and diags', () => {
  it('removes another host\'s records, refusing while it has endpoints unless --remove-endpoints', async () => {
    const other = 'ct-other-host';
    await etcdctl(etcd, 'put', `/calico/v1/host/${other}/bird_ip`, '192.0.2.77');
    await etcdctl(etcd, 'put', `/calico/bgp/v1/host/${other}/ip_addr_v6`, '');
    await etcdctl(etcd, 'put', `/calico/v1/host/${other}/workload/libnetwork/libnetwork/endpoint/e9`, '{"state":"active","name":"calie9","mac":"EE:EE:EE:EE:EE:EE","profile_ids":[],"ipv4_nets":["10.68.0.201/32"],"ipv6_nets":[],"labels":{}}');
    // Its block (one this host's own tests do not claim first), as the plugin on that host would have.
    const allocations = Array.from({ length: 64 }, (_, i) => (i === 9 ? 0 : null)); // 10.68.0.201
    const unallocated = allocations.flatMap((a, i) => (a === null ? [i] : []));
    const block = { cidr: '10.68.0.192/26', affinity: `host:${other}`, strict_affinity: false, allocations, unallocated, attributes: [{ handle_id: null, secondary: { hostname: other } }] };
    await etcdctl(etcd, 'put', '/calico/ipam/v2/assignment/ipv4/block/10.68.0.192-26', JSON.stringify(block));
    await etcdctl(etcd, 'put', `/calico/ipam/v2/host/${other}/ipv4/block/10.68.0.192-26`, '');
    expect(await must('node', 'show')).toContain(`| ${other} |`);

    const refused = await run('node', 'remove', `--hostname=${other}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^The node has active Calico endpoints so can't be deleted\. Force with --remove-endpoints/);
    expect(await must('node', 'remove', `--hostname=${other}`, '--remove-endpoints')).toBe('Node configuration removed\n');
    expect(await etcdctl(etcd, 'get', '--prefix', `/calico/v1/host/${other}/`, '--keys-only')).toBe('');
    // Its address is freed and its block given up (an empty block nobody holds is deleted).
    expect(await etcdctl(etcd, 'get', '--prefix', '/calico/ipam/v2/', '--keys-only')).not.toMatch(/10\.68\.0\.192-26|ct-other-host/);
    expect(await must('node', 'show')).not.toContain(other);
  });

  it('diags writes a tarball with the kernel state, the etcd tree and the logs', async () => {
    const result = await run('diags', `--log-dir=${logDir}`);
    expect(result.code).toBe(0);
    const tarball = result.stdout.trim();
    expect(tarball).toMatch(/diags-\d{8}T\d{6}\.tar\.gz$/);
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
    for (const file of ['iptables-save.txt', 'ipset-list.txt', 'ip-route.txt', 'etcd-calico.json']) expect(listing).toContain(file);
    const dir = path.dirname(tarball);
    const etcdDump = execFileSync('tar', ['-xzOf', tarball, '--wildcards', '*/etcd-calico.json'], { encoding: 'utf8' });
    expect(JSON.parse(etcdDump).keys['/calico/v1/ipam/v4/pool/10.68.0.0-16']).toBe('{"cidr":"10.68.0.0/16"}');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('calicoctl node: --dry-run and validation', () => {
  it('prints exactly what would run, and changes nothing (no root needed)', async () => {
    const before = await etcdctl(etcd, 'get', '--prefix', '/calico', '--keys-only');
    const result = await calicoctl(['node', '--dry-run', `--ip=${HOST_IP}`, '--name=host1', '--log-dir=/var/log/calico'], {
      ETCD_ENDPOINTS: 'http://127.0.0.1:2379',
      NO_DEFAULT_POOLS: '',
    });
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout:
        `Would register host host1 in etcd (http://127.0.0.1:2379): IPv4 ${HOST_IP}, IPv6 none, AS inherited from the default, the default pool 192.168.0.0/16 if there is no IPv4 pool${fs.existsSync('/proc/sys/net/ipv6') ? ' and fd80:24e2:f998:72d6::/64 if there is no IPv6 pool' : ''}.\n` +
        'Would enable IPv4 and IPv6 forwarding.\n' +
        'Would run:\n' +
        `docker run --detach --name=calico-node --restart=always --net=host --cap-add=NET_ADMIN --cap-add=NET_RAW --security-opt=systempaths=unconfined ` +
        `--label=org.projectcalico.calicoctl.settings=${/settings=([0-9a-f]{16})/.exec(result.stdout)?.[1]} ` +
        `--env=HOSTNAME=host1 --env=IP=${HOST_IP} --env=IP6= --env=CALICO_NETWORKING_BACKEND=bird --env=AS= --env=NO_DEFAULT_POOLS= --env=ETCD_ENDPOINTS=http://127.0.0.1:2379 --env=ETCD_TIMEOUT=5000ms ` +
        `--volume=/var/log/calico:/var/log/calico --volume=/var/run/calico:/var/run/calico --volume=/run/docker/plugins:/run/docker/plugins --volume=/var/run/docker.sock:/var/run/docker.sock` +
        `${fs.existsSync('/lib/modules') ? ' --volume=/lib/modules:/lib/modules:ro' : ''} ${IMAGE} --log-dir /var/log/calico --hostname host1\n`,
    });
    const again = await calicoctl(['node', '--dry-run', `--ip=${HOST_IP}`, '--name=host1', '--log-dir=/var/log/calico'], { ETCD_ENDPOINTS: 'http://127.0.0.1:2379', NO_DEFAULT_POOLS: '' });
    expect(again.stdout).toBe(result.stdout); // stable
    expect(await etcdctl(etcd, 'get', '--prefix', '/calico', '--keys-only')).toBe(before);
  });

  it.each([
    [['--ip=300.1.1.1'], 'Invalid IPv4 address specified with --ip argument.'],
    [['--ip=fd00::1'], 'Invalid IPv4 address specified with --ip argument.'],
    [['--ip=192.0.2.254'], '--ip 192.0.2.254 is not an address of this host.'],
    [['--ip6=10.0.0.1'], 'Invalid IPv6 address specified with --ip6 argument.'],
    [['--log-dir=relative'], "--log-dir must be an absolute path, not 'relative'."],
    [['--name=bad/name'], "Invalid --name 'bad/name': use letters, digits, dots, dashes and underscores."],
    [['--as=4294967296'], 'Invalid AS Number specified.'],
    [['--as=1.2.3'], 'Invalid AS Number specified.'],
    [['--backend=gobgp'], 'The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.'],
  ])('refuses %j with one line and exit 1', async (args, message) => {
    const result = await run('node', '--dry-run', ...(args[0]?.startsWith('--ip=') ? [] : [`--ip=${HOST_IP}`]), ...args);
    expect(result).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
  });

  it('--backend=gobgp writes nothing and starts nothing, also without --dry-run', async () => {
    const before = await etcdctl(etcd, 'get', '--prefix', '/calico');
    expect(await run('node', `--ip=${HOST_IP}`, '--backend=gobgp', '--as=64512')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.\n',
    });
    expect(await etcdctl(etcd, 'get', '--prefix', '/calico')).toBe(before);
    expect(await nodeContainerRunning()).toBe(false);
  });

  it.each([
    [['--runtime=lxc'], /argument 'lxc' is invalid/],
    [['--detach=maybe'], /argument 'maybe' is invalid/],
  ])('refuses %j as a usage error', async (args, message) => {
    const result = await run('node', '--dry-run', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('refuses v0.23\'s --runtime=rkt in one line, exit 1, and takes --libnetwork with a note', async () => {
    expect(await run('node', '--dry-run', '--runtime=rkt')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'The rkt runtime is not supported: use --runtime=docker (a container) or --runtime=process (a host process).\n',
    });
    const libnetwork = await run('node', '--dry-run', '--libnetwork', `--ip=${HOST_IP}`);
    expect(libnetwork.code).toBe(0);
    expect(libnetwork.stderr).toBe('Note: --libnetwork is ignored: calico-node always serves the Docker network and IPAM plugin.\n');
  });

  it('fails fast when etcd is down at start', async () => {
    const down = await startEtcd();
    const downEnv = down.env;
    await down.stop();
    const result = await calicoctl(['node', '--no-pull', `--ip=${HOST_IP}`], { ...downEnv, HOSTNAME });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAIL etcd: Cannot connect to etcd');
    expect(await nodeContainerRunning()).toBe(false);
  });

  it('checksystem prints one line per check', async () => {
    const result = await run('checksystem');
    const lines = result.stdout.trim().split('\n');
    expect(lines.every((line) => /^(OK  |WARN|FAIL) [^:]+: /.test(line))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^OK   etcd: ${etcd.endpoint} \\(etcd 3\\.\\d+\\.\\d+\\)$`)));
    expect(result.code).toBe(lines.some((line) => line.startsWith('FAIL')) ? 1 : 0);
  });
});
