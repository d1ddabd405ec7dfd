import { type ChildProcess, execFile, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './cli';

/**
 * A simulated cluster of Docker hosts on this one machine, for the multi-host tests.
 *
 * - A "switch" network namespace holds a bridge at 10.200.0.254 (and fd00:200::fe) and the lab's
 *   etcd. It forwards nothing, so a packet for anything but a lab address dies there.
 * - Each host is a network namespace with eth0 at 10.200.0.<i> on that bridge, plus a mount and
 *   UTS namespace held open by a `sleep` ("holder"). It has its own hostname, its own /run (so its
 *   own containerd, plugin socket and /var/run/calico) and its own /etc/docker (its own engine
 *   ID). Every process of a host is started with `nsenter -t <holder> -m -u -n`.
 * - With `subnets: 2`, the second half of the hosts sit on another subnet, 10.200.1.0/24, on a
 *   bridge in a "router" namespace that also has a leg on the switch (10.200.0.253). It forwards
 *   between the two subnets and knows no other route, so hosts (and etcd) reach each other across
 *   it while container addresses die there: only IPIP, whose packets are between host
 *   addresses, carries containers across.
 * - Nothing is added to the machine's own network namespace: lab addresses exist only inside
 *   namespaces made here, and `stop()` removes every one of them.
 *
 * Why each piece is needed (cgroups under `ip netns exec`, the default route that proxy ARP
 * needs, a per-host containerd) is explained where it is done.
 */

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export const LAB_NET = '10.200.0';
export const SWITCH_IP = `${LAB_NET}.254`;
export const LAB_NET6 = 'fd00:200:';
export const SWITCH_IP6 = `${LAB_NET6}:fe`;
/** The router's legs (subnets: 2): on the switch's subnet, and the gateway of the second one. */
export const ROUTER_IP = `${LAB_NET}.253`;
export const ROUTER_IP6 = `${LAB_NET6}:fd`;
const subnetNet = (subnet: number) => `10.200.${subnet}`;
const subnetNet6 = (subnet: number) => `fd00:20${subnet}:`;
/**
 * How many members the lab's etcd has: one, or a cluster when LAB_ETCD_MEMBERS says so
 * (scripts/test-all runs a multi-host file again on three). Every member listens on the switch's
 * address, each on its own client port (2379, 2381, ...), with its peer port one above.
 */
export const LAB_ETCD_MEMBERS = Math.max(1, Number(process.env.LAB_ETCD_MEMBERS ?? 1) || 1);
/**
 * LAB_ETCD_TLS=1: the lab's etcd speaks only mutual TLS, with certificates made here for the
 * switch's address, and every client in the lab (calico-node, calicoctl, etcdctl, dockerd's
 * cluster store) is given them. scripts/test-all runs the multi-host files again this way.
 */
export const LAB_ETCD_TLS = process.env.LAB_ETCD_TLS === '1';
const memberPort = (i: number) => 2379 + 2 * i;
const LAB_ETCD_URLS = Array.from({ length: LAB_ETCD_MEMBERS }, (_, i) => `${LAB_ETCD_TLS ? 'https' : 'http'}://${SWITCH_IP}:${memberPort(i)}`);
/** ETCD_ENDPOINTS for the lab: every member. */
export const LAB_ETCD = LAB_ETCD_URLS.join(',');
const LAB_CERTS = LAB_ETCD_TLS ? makeLabCerts() : undefined;
/** The environment a client in the lab needs for its etcd: the endpoints, and the certificates under TLS. */
export const LAB_ETCD_ENV: Readonly<Record<string, string>> = {
  ETCD_ENDPOINTS: LAB_ETCD,
  ...(LAB_CERTS && { ETCD_CA_CERT_FILE: LAB_CERTS.ca, ETCD_CERT_FILE: LAB_CERTS.cert, ETCD_KEY_FILE: LAB_CERTS.key }),
};
/** etcdctl's flags for the lab's etcd. */
export const LAB_ETCDCTL_FLAGS: readonly string[] = [`--endpoints=${LAB_ETCD}`, ...(LAB_CERTS ? [`--cacert=${LAB_CERTS.ca}`, `--cert=${LAB_CERTS.cert}`, `--key=${LAB_CERTS.key}`] : [])];
/**
 * dockerd's flags for the lab's etcd as its cluster store: a network made on one host then
 * exists on every host, with one ID (global scope, without swarm). Both flags are deprecated and
 * hidden in Docker 20.10, and gone in 23.
 */
export const CLUSTER_STORE_FLAGS: readonly string[] = [
  `--cluster-store=etcd://${LAB_ETCD_URLS.map((url) => url.replace(/^https?:\/\//, '')).join(',')}`,
  '--cluster-advertise=eth0:2376',
  ...(LAB_CERTS ? [`--cluster-store-opt=kv.cacertfile=${LAB_CERTS.ca}`, `--cluster-store-opt=kv.certfile=${LAB_CERTS.cert}`, `--cluster-store-opt=kv.keyfile=${LAB_CERTS.key}`] : []),
];

/**
 * A CA, a server certificate for the switch's address and a client certificate, made once per
 * test process (EC keys: fast to make) and removed when it exits. Synchronous, because the
 * constants above are read as modules load.
 */
function makeLabCerts(): { ca: string; cert: string; key: string; serverCert: string; serverKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-lab-tls-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const p = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '30', '-subj', '/CN=calico-lab-ca');
  fs.writeFileSync(p('server.ext'), `subjectAltName=IP:${SWITCH_IP},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
  fs.writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'calico-lab-etcd'], ['client', 'calico-lab-client']] as const) {
    openssl('req', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '30', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`));
  }
  for (const f of fs.readdirSync(dir)) fs.chmodSync(p(f), 0o644);
  return { ca: p('ca.crt'), cert: p('client.crt'), key: p('client.key'), serverCert: p('server.crt'), serverKey: p('server.key') };
}

function exec(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env }, (error, stdout, stderr) => {
      const code = !error ? 0 : typeof error.code === 'number' ? error.code : 127;
      resolve({ stdout, stderr: stderr || (error ? error.message : ''), code });
    });
    child.stdin?.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function must(file: string, args: readonly string[]): Promise<string> {
  const r = await exec(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A bound on a wait that must not keep jest alive once the wait is over. */
const deadline = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
  return Date.now() - start;
}

// Run inside the host's new mount namespace, already in its network namespace.
const HOLDER_SCRIPT = `set -e
hostname "$1"
D="$2"
mkdir -p "$D/cg" "$D/plugins" "$D/etc-docker" "$D/data"
# ip netns exec would mount a fresh sysfs without /sys/fs/cgroup, and dockerd then fails with
# "Devices cgroup isn't mounted". Keep the real cgroup tree, under a sysfs of this netns.
mount --rbind /sys/fs/cgroup "$D/cg"
mount -t sysfs sysfs /sys
mount --move "$D/cg" /sys/fs/cgroup
# Its own /run: dockerd uses /run/containerd/containerd.sock when it exists, and a shared
# containerd would run --net=host containers in the machine's namespace. Also the plugin socket,
# /var/run/calico and the xtables lock.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/docker/plugins /run/calico /run/netns
mount --bind "$D/plugins" /run/docker/plugins
# Its own key.json, so that each engine has its own ID.
mkdir -p /etc/docker
mount --bind "$D/etc-docker" /etc/docker
echo '{}' > /etc/docker/daemon.json
touch "$D/ready"
exec sleep infinity
`;

export class LabHost {
  holder: ChildProcess | undefined;
  readonly processes = new Map<string, ChildProcess>();

  constructor(
    readonly lab: Lab,
    readonly index: number,
    readonly name: string,
    readonly ns: string,
    readonly dir: string,
    /** 0: the switch's subnet, 10.200.0.0/24; 1: the router's, 10.200.1.0/24 (subnets: 2). */
    readonly subnet = 0,
  ) {}

  get ip(): string {
    return `${subnetNet(this.subnet)}.${this.index}`;
  }

  get ip6(): string {
    return `${subnetNet6(this.subnet)}:${this.index}`;
  }

  get dockerSock(): string {
    return path.join(this.dir, 'docker.sock');
  }

  /** The plugin folder of this host (its /run/docker/plugins), seen from outside. */
  get pluginDir(): string {
    return path.join(this.dir, 'plugins');
  }

  private get holderPid(): number {
    const pid = this.holder?.pid;
    if (pid === undefined) throw new Error(`${this.name} has no holder`);
    return pid;
  }

  /** Argv prefix that runs a command inside this host's namespaces. */
  inside(...command: string[]): string[] {
    return ['nsenter', '-t', String(this.holderPid), '-m', '-u', '-n', ...command];
  }

  /** Runs a command inside this host and waits for it. */
  exec(command: readonly string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    const [file, ...args] = this.inside(...command);
    return exec(file as string, args, { ...opts, env: { ...process.env, ...opts.env } });
  }

  /** Runs a command in this host's network namespace only (the machine's files, the host's network). */
  execNet(command: readonly string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    return exec('nsenter', ['-t', String(this.holderPid), '-n', ...command], { ...opts, env: { ...process.env, ...opts.env } });
  }

  /** The docker CLI against this host's engine. */
  docker(...args: string[]): Promise<RunResult> {
    return exec('docker', ['-H', `unix://${this.dockerSock}`, ...args]);
  }

  /** calicoctl as an operator on this host runs it: in its network, with its engine and the lab's etcd. */
  calicoctl(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
    return this.exec(['env', ...Object.entries(LAB_ETCD_ENV).map(([k, v]) => `${k}=${v}`), `DOCKER_HOST=unix:///run/docker.sock`, `HOSTNAME=${this.name}`, path.join(ROOT, 'bin/calicoctl'), ...args], { env });
  }

  /** Starts a long-running process inside this host, logging to <dir>/<label>.log. */
  spawn(label: string, command: readonly string[], env: Record<string, string> = {}): ChildProcess {
    const log = fs.openSync(path.join(this.dir, `${label}.log`), 'a');
    const [file, ...args] = this.inside(...command);
    const child = spawn(file as string, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
    fs.closeSync(log);
    this.processes.set(label, child);
    child.once('exit', () => {
      if (this.processes.get(label) === child) this.processes.delete(label);
    });
    return child;
  }

  log(label: string): string {
    try {
      return fs.readFileSync(path.join(this.dir, `${label}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops a process started with spawn() and waits for it to exit. */
  async kill(label: string, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<void> {
    const child = this.processes.get(label);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const done = await Promise.race([exited.then(() => true), deadline(timeoutMs).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /**
   * dockerd's managed containerd dies with it (its parent-death signal), but this machine's pid 1
   * does not reap orphans, so it stays a zombie. A restarted dockerd reads its pid file, takes the
   * zombie for a containerd that "is still running", and waits for its socket until it gives up
   * ("timeout waiting for containerd to start"). On a real host init reaps it and the check is
   * right; here the pid file of a containerd that does not run is removed first.
   */
  private dropDeadContainerdPidFile(): void {
    if (!this.holder?.pid) return;
    const file = `/proc/${this.holder.pid}/root/run/docker/containerd/containerd.pid`;
    let pid: number;
    try {
      pid = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      return;
    }
    if (!(pid > 0 && running(pid))) fs.rmSync(file, { force: true });
  }

  /** Starts this host's dockerd, with the lab's cluster store when the lab was started with one. */
  async startDockerd(extraArgs: readonly string[] = []): Promise<void> {
    this.dropDeadContainerdPidFile();
    // nsenter execs dockerd, so the child's pid is dockerd's own and a signal reaches it.
    this.spawn('dockerd', [
      'dockerd',
      '--data-root', path.join(this.dir, 'data'),
      '--config-file', '/etc/docker/daemon.json',
      '--cgroup-parent', `/${this.ns}`,
      '-H', 'unix:///run/docker.sock',
      '-H', `unix://${this.dockerSock}`,
      ...(this.lab.clusterStore ? CLUSTER_STORE_FLAGS : []),
      ...extraArgs,
    ]);
    await waitUntil(`dockerd on ${this.name}`, async () => (await this.docker('version', '--format', '{{.Server.Version}}')).code === 0, 60_000, 50).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.log('dockerd').split('\n').slice(-20).join('\n')}`);
    });
  }
}

/** Whether a pid is a process that runs: neither gone nor a zombie (state Z in /proc/<pid>/stat). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX] /s.test(stat);
  } catch {
    return false;
  }
}

export interface LabOptions {
  readonly hosts: number;
  /** Start etcd in the switch namespace (with the v2 API, for Docker's cluster store). */
  readonly etcd?: boolean;
  /** Start every dockerd with the lab's etcd as its cluster store (CLUSTER_STORE_FLAGS). */
  readonly clusterStore?: boolean;
  /** 2: put the second half of the hosts on a subnet of their own, behind a router (see above). */
  readonly subnets?: 1 | 2;
}

export class Lab {
  readonly hosts: LabHost[] = [];
  readonly prefix: string;
  readonly dir: string;
  readonly switchNs: string;
  readonly routerNs: string;
  private routed = false;
  private readonly etcd: ChildProcess[] = [];
  private stopped = false;

  /** Whether every dockerd is started with the lab's etcd as its cluster store. */
  private constructor(readonly clusterStore: boolean) {
    this.prefix = `ctl${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-lab-'));
    this.switchNs = `${this.prefix}sw`;
    this.routerNs = `${this.prefix}rt`;
  }

  static async start(options: LabOptions): Promise<Lab> {
    const lab = new Lab(options.clusterStore === true);
    try {
      await lab.build(options);
    } catch (error) {
      await lab.stop();
      throw error;
    }
    return lab;
  }

  /** Runs a command in the switch namespace (where the lab's etcd listens). */
  inSwitch(command: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return exec('ip', ['netns', 'exec', this.switchNs, ...command], opts);
  }

  private async build(options: LabOptions): Promise<void> {
    const sw = this.switchNs;
    await must('ip', ['netns', 'add', sw]);
    await must('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await must('ip', ['-n', sw, 'addr', 'add', `${SWITCH_IP}/24`, 'dev', 'br0']);
    await must('ip', ['-n', sw, '-6', 'addr', 'add', `${SWITCH_IP6}/64`, 'dev', 'br0', 'nodad']);
    await must('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    // etcd's peer URL is on loopback.
    await must('ip', ['-n', sw, 'link', 'set', 'lo', 'up']);
    await must('ip', ['netns', 'exec', sw, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    await must('ip', ['netns', 'exec', sw, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
    if (options.etcd !== false) await this.startEtcd();
    if (options.subnets === 2) await this.buildRouter();
    const firstOfSecond = options.subnets === 2 ? Math.floor(options.hosts / 2) + 1 : options.hosts + 1;

    for (let i = 1; i <= options.hosts; i++) {
      const ns = `${this.prefix}h${i}`;
      const dir = path.join(this.dir, `h${i}`);
      fs.mkdirSync(dir, { recursive: true });
      const subnet = i >= firstOfSecond ? 1 : 0;
      const host = new LabHost(this, i, `${this.prefix}-host${i}`, ns, dir, subnet);
      this.hosts.push(host);
      await must('ip', ['netns', 'add', ns]);
      const [bridgeNs, bridge] = subnet === 0 ? [sw, 'br0'] : [this.routerNs, 'br1'];
      await must('ip', ['-n', bridgeNs, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await must('ip', ['-n', bridgeNs, 'link', 'set', `p${i}`, 'master', bridge, 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, '-6', 'addr', 'add', `${host.ip6}/64`, 'dev', 'eth0', 'nodad']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      // Proxy ARP answers for 169.254.1.1 only when the host has a route to it, as real hosts do.
      // The switch is a dead end, so this route takes nothing out of the lab; so is the router
      // for anything but the two subnets.
      if (subnet === 0) {
        await must('ip', ['-n', ns, 'route', 'add', 'default', 'via', SWITCH_IP]);
        await must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', SWITCH_IP6]);
        if (options.subnets === 2) {
          await must('ip', ['-n', ns, 'route', 'add', `${subnetNet(1)}.0/24`, 'via', ROUTER_IP]);
          await must('ip', ['-n', ns, '-6', 'route', 'add', `${subnetNet6(1)}:/64`, 'via', ROUTER_IP6]);
        }
      } else {
        await must('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${subnetNet(1)}.254`]);
        await must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', `${subnetNet6(1)}:fe`]);
      }
      await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      const script = path.join(this.dir, 'holder.sh');
      fs.writeFileSync(script, HOLDER_SCRIPT);
      const log = fs.openSync(path.join(dir, 'holder.log'), 'a');
      host.holder = spawn('nsenter', [`--net=/run/netns/${ns}`, 'unshare', '-m', '-u', '--propagation', 'private', 'sh', script, host.name, dir], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
    }
    for (const host of this.hosts) {
      await waitUntil(`${host.name}'s namespaces`, async () => fs.existsSync(path.join(host.dir, 'ready')), 10_000, 20);
    }
  }

  /**
   * The router between the two subnets: a leg on the switch's bridge and a bridge of its own for
   * the second subnet. It forwards, but has only the two subnets' own routes.
   */
  private async buildRouter(): Promise<void> {
    const sw = this.switchNs;
    const rt = this.routerNs;
    await must('ip', ['netns', 'add', rt]);
    this.routed = true;
    await must('ip', ['-n', sw, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', rt]);
    await must('ip', ['-n', sw, 'link', 'set', 'up0', 'master', 'br0', 'up']);
    await must('ip', ['-n', rt, 'link', 'set', 'lo', 'up']);
    await must('ip', ['-n', rt, 'addr', 'add', `${ROUTER_IP}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', rt, '-6', 'addr', 'add', `${ROUTER_IP6}/64`, 'dev', 'eth0', 'nodad']);
    await must('ip', ['-n', rt, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', rt, 'link', 'add', 'br1', 'type', 'bridge']);
    await must('ip', ['-n', rt, 'addr', 'add', `${subnetNet(1)}.254/24`, 'dev', 'br1']);
    await must('ip', ['-n', rt, '-6', 'addr', 'add', `${subnetNet6(1)}:fe/64`, 'dev', 'br1', 'nodad']);
    await must('ip', ['-n', rt, 'link', 'set', 'br1', 'up']);
    await must('ip', ['netns', 'exec', rt, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await must('ip', ['netns', 'exec', rt, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    // etcd, in the switch, answers the second subnet through the router.
    await must('ip', ['-n', sw, 'route', 'add', `${subnetNet(1)}.0/24`, 'via', ROUTER_IP]);
    await must('ip', ['-n', sw, '-6', 'route', 'add', `${subnetNet6(1)}:/64`, 'via', ROUTER_IP6]);
  }

  /** Runs a command in the router namespace (subnets: 2). */
  inRouter(command: readonly string[]): Promise<RunResult> {
    return exec('ip', ['netns', 'exec', this.routerNs, ...command]);
  }

  private async startEtcd(): Promise<void> {
    const peer = (i: number) => `http://127.0.0.1:${memberPort(i) + 1}`;
    const tls = LAB_CERTS ? ['--cert-file', LAB_CERTS.serverCert, '--key-file', LAB_CERTS.serverKey, '--trusted-ca-file', LAB_CERTS.ca, '--client-cert-auth'] : [];
    const cluster = LAB_ETCD_URLS.map((_, i) => `lab${i}=${peer(i)}`).join(',');
    for (const [i, url] of LAB_ETCD_URLS.entries()) {
      const log = fs.openSync(path.join(this.dir, `etcd${i}.log`), 'a');
      this.etcd.push(
        spawn(
          'ip',
          ['netns', 'exec', this.switchNs, 'etcd', '--name', `lab${i}`, '--data-dir', path.join(this.dir, `etcd${i}`), '--enable-v2=true',
            '--listen-client-urls', url, '--advertise-client-urls', url,
            '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
            '--initial-cluster', cluster, '--heartbeat-interval', '50', '--election-timeout', '500', ...tls],
          { stdio: ['ignore', log, log], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
        ),
      );
      fs.closeSync(log);
    }
    // Healthy means every member has a leader: a cluster's members wait for each other.
    await waitUntil('the lab\'s etcd', async () => (await this.inSwitch(['etcdctl', '--dial-timeout=1s', '--command-timeout=1s', ...LAB_ETCDCTL_FLAGS, 'endpoint', 'health'])).code === 0, 20_000);
  }

  /** Every key under a prefix of the lab's etcd, as etcdctl prints them. */
  async etcdGet(prefix: string): Promise<string> {
    const r = await this.inSwitch(['etcdctl', ...LAB_ETCDCTL_FLAGS, 'get', '--prefix', prefix]);
    return r.stdout;
  }

  /** Removes everything the lab made. Safe to call twice, and after a failed start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const host of this.hosts) {
      if (!host.holder?.pid || !fs.existsSync(host.dockerSock)) continue;
      const ids = (await host.docker('ps', '-aq')).stdout.split(/\s+/).filter(Boolean);
      if (ids.length > 0) await host.docker('rm', '-f', ...ids);
    }
    // Daemons last to first: the agent and BIRD before dockerd, whose containerd exits with it.
    for (const host of this.hosts) {
      for (const label of [...host.processes.keys()].reverse()) await host.kill(label);
    }
    for (const host of this.hosts) {
      if (host.holder && host.holder.exitCode === null) {
        const exited = new Promise((resolve) => host.holder?.once('exit', resolve));
        host.holder.kill('SIGTERM');
        await Promise.race([exited, deadline(5000)]);
      }
    }
    for (const member of this.etcd.filter((m) => m.exitCode === null)) {
      const exited = new Promise((resolve) => member.once('exit', resolve));
      member.kill('SIGTERM');
      await Promise.race([exited, deadline(5000)]);
    }
    // Anything still running in a namespace made here can only be ours.
    for (const ns of [...this.hosts.map((h) => h.ns), this.switchNs, ...(this.routed ? [this.routerNs] : [])]) {
      const pids = (await exec('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    // A container whose engine died (the fault tests kill dockerd) lives in its own network
    // namespace, out of reach of the loop above, but in its host's cgroup (dockerd's --cgroup-parent).
    for (const host of this.hosts) {
      const procs = (await exec('find', ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '-path', `*/${host.ns}/*`, '-name', 'cgroup.procs'])).stdout.split('\n').filter(Boolean);
      for (const file of procs) {
        for (const pid of fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
    }
    for (const host of this.hosts) await exec('ip', ['netns', 'del', host.ns]);
    await exec('ip', ['netns', 'del', this.switchNs]);
    if (this.routed) await exec('ip', ['netns', 'del', this.routerNs]);
    for (const controller of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
      for (const host of this.hosts) {
        const dir = path.join('/sys/fs/cgroup', controller, host.ns);
        if (fs.existsSync(dir)) await exec('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
      }
    }
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    if (!mounts.includes(this.dir)) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Imports the lab's busybox image into a host's engine from the tar the main test image is made of. */
export async function importBusybox(host: LabHost, tag = 'lab/busybox:1'): Promise<string> {
  const tar = path.join(host.lab.dir, 'busybox.tar');
  if (!fs.existsSync(tar)) {
    const root = path.join(host.lab.dir, 'rootfs');
    for (const d of ['bin', 'www', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    fs.copyFileSync('/usr/bin/busybox', path.join(root, 'bin', 'busybox'));
    for (const applet of ['sh', 'ip', 'ping', 'ping6', 'httpd', 'nc', 'sleep', 'cat', 'echo', 'true']) fs.symlinkSync('busybox', path.join(root, 'bin', applet));
    await must('tar', ['-C', root, '--numeric-owner', '-cf', tar, '.']);
  }
  const r = await host.docker('import', '--change', 'CMD ["/bin/sh"]', tar, tag);
  if (r.code !== 0) throw new Error(`docker import on ${host.name}: ${r.stderr}`);
  return tag;
}
