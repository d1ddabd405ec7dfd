import { type ChildProcess, execFile, spawn } from 'child_process';
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
/**
 * How many members the lab's etcd has: one, or a cluster when LAB_ETCD_MEMBERS says so
 * (scripts/test-all runs a multi-host file again on three). Every member listens on the switch's
 * address, each on its own client port (2379, 2381, ...), with its peer port one above.
 */
export const LAB_ETCD_MEMBERS = Math.max(1, Number(process.env.LAB_ETCD_MEMBERS ?? 1) || 1);
const memberPort = (i: number) => 2379 + 2 * i;
const LAB_ETCD_URLS = Array.from({ length: LAB_ETCD_MEMBERS }, (_, i) => `http://${SWITCH_IP}:${memberPort(i)}`);
/** ETCD_ENDPOINTS for the lab: every member. */
export const LAB_ETCD = LAB_ETCD_URLS.join(',');
/**
 * dockerd's flags for the lab's etcd as its cluster store: a network made on one host then
 * exists on every host, with one ID (global scope, without swarm). Both flags are deprecated and
 * hidden in Docker 20.10, and gone in 23.
 */
export const CLUSTER_STORE_FLAGS = [`--cluster-store=etcd://${LAB_ETCD_URLS.map((url) => url.slice('http://'.length)).join(',')}`, '--cluster-advertise=eth0:2376'] as const;

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
  ) {}

  get ip(): string {
    return `${LAB_NET}.${this.index}`;
  }

  get ip6(): string {
    return `${LAB_NET6}:${this.index}`;
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
    return this.exec(['env', `ETCD_ENDPOINTS=${LAB_ETCD}`, `DOCKER_HOST=unix:///run/docker.sock`, `HOSTNAME=${this.name}`, path.join(ROOT, 'bin/calicoctl'), ...args], { env });
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

  /** Starts this host's dockerd, with the lab's cluster store when the lab was started with one. */
  async startDockerd(extraArgs: readonly string[] = []): Promise<void> {
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

export interface LabOptions {
  readonly hosts: number;
  /** Start etcd in the switch namespace (with the v2 API, for Docker's cluster store). */
  readonly etcd?: boolean;
  /** Start every dockerd with the lab's etcd as its cluster store (CLUSTER_STORE_FLAGS). */
  readonly clusterStore?: boolean;
}

export class Lab {
  readonly hosts: LabHost[] = [];
  readonly prefix: string;
  readonly dir: string;
  readonly switchNs: string;
  private readonly etcd: ChildProcess[] = [];
  private stopped = false;

  /** Whether every dockerd is started with the lab's etcd as its cluster store. */
  private constructor(readonly clusterStore: boolean) {
    this.prefix = `ctl${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-lab-'));
    this.switchNs = `${this.prefix}sw`;
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

    for (let i = 1; i <= options.hosts; i++) {
      const ns = `${this.prefix}h${i}`;
      const dir = path.join(this.dir, `h${i}`);
      fs.mkdirSync(dir, { recursive: true });
      const host = new LabHost(this, i, `${this.prefix}-host${i}`, ns, dir);
      this.hosts.push(host);
      await must('ip', ['netns', 'add', ns]);
      await must('ip', ['-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await must('ip', ['-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, '-6', 'addr', 'add', `${host.ip6}/64`, 'dev', 'eth0', 'nodad']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      // Proxy ARP answers for 169.254.1.1 only when the host has a route to it, as real hosts do.
      // The switch is a dead end, so this route takes nothing out of the lab.
      await must('ip', ['-n', ns, 'route', 'add', 'default', 'via', SWITCH_IP]);
      await must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', SWITCH_IP6]);
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

  private async startEtcd(): Promise<void> {
    const peer = (i: number) => `http://127.0.0.1:${memberPort(i) + 1}`;
    const cluster = LAB_ETCD_URLS.map((_, i) => `lab${i}=${peer(i)}`).join(',');
    for (const [i, url] of LAB_ETCD_URLS.entries()) {
      const log = fs.openSync(path.join(this.dir, `etcd${i}.log`), 'a');
      this.etcd.push(
        spawn(
          'ip',
          ['netns', 'exec', this.switchNs, 'etcd', '--name', `lab${i}`, '--data-dir', path.join(this.dir, `etcd${i}`), '--enable-v2=true',
            '--listen-client-urls', url, '--advertise-client-urls', url,
            '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
            '--initial-cluster', cluster, '--heartbeat-interval', '50', '--election-timeout', '500'],
          { stdio: ['ignore', log, log], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
        ),
      );
      fs.closeSync(log);
    }
    // Healthy means every member has a leader: a cluster's members wait for each other.
    await waitUntil('the lab\'s etcd', async () => (await this.inSwitch(['etcdctl', '--dial-timeout=1s', '--command-timeout=1s', `--endpoints=${LAB_ETCD}`, 'endpoint', 'health'])).code === 0, 20_000);
  }

  /** Every key under a prefix of the lab's etcd, as etcdctl prints them. */
  async etcdGet(prefix: string): Promise<string> {
    const r = await this.inSwitch(['etcdctl', `--endpoints=${LAB_ETCD}`, 'get', '--prefix', prefix]);
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
    for (const ns of [...this.hosts.map((h) => h.ns), this.switchNs]) {
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
