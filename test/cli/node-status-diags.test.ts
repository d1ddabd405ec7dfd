import { PASSWORD_FILE, PID_FILE, PROCESS_FILE, STARTED_MESSAGE, STATE_DIR, STATUS_FILE } from '../../src/agent/contract';
import type { Environment } from '../../src/cli/context';
import type { HostSystem, SpawnedProcess } from '../../src/cli/host-system';
import type { ContainerRuntime, ContainerSpec, ContainerState } from '../../src/docker/containers';
import { type FakeWorld, fakeWorld } from '../fakes/cli';
import { runUnchanged, seedEndpoint } from './helpers';

/**
 * `node`, `node stop`, `status` and `diags` in-process: the host's files and processes, Docker's
 * containers and the host tools are fakes, so every step that the e2e tests (test/e2e/node.test.ts)
 * run for real is checked here without root, Docker or a kernel.
 */

const LOG_FILE = '/var/log/calico/calico-node.log';

class FakeHost implements HostSystem {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  readonly alive = new Set<number>();
  readonly signals: [number, string][] = [];
  spawned: { file: string; args: readonly string[]; env: Environment; detached: boolean; logFile: string } | undefined;
  /** What the spawned agent writes to its log; undefined: it dies at once. */
  agentLog: string | undefined = `Starting\n${STARTED_MESSAGE}\n`;
  /** Whether SIGTERM stops a process. */
  termStops = true;

  mkdir(path: string): void {
    this.dirs.add(path);
  }
  writeFile(path: string, text: string): void {
    this.files.set(path, text);
  }
  readonly secrets = new Set<string>();
  writeSecret(path: string, text: string): void {
    this.files.set(path, text);
    this.secrets.add(path);
  }
  removeFile(path: string): void {
    this.files.delete(path);
  }
  fileSize(path: string): number {
    return this.files.get(path)?.length ?? 0;
  }
  readFrom(path: string, offset: number): string {
    return (this.files.get(path) ?? '').slice(offset);
  }
  listDir(path: string): string[] {
    return [...this.files.keys()].filter((f) => f.startsWith(`${path}/`)).map((f) => f.slice(path.length + 1));
  }
  copyFile(from: string, to: string): void {
    this.files.set(to, this.files.get(from) ?? '');
  }
  makeTempDir(prefix: string): string {
    const dir = `/tmp/${prefix}0`;
    this.dirs.add(dir);
    return dir;
  }
  spawn(file: string, args: readonly string[], options: { env: Environment; detached: boolean; logFile: string }): SpawnedProcess {
    this.spawned = { file, args, ...options };
    const pid = 4242;
    if (this.agentLog !== undefined) this.alive.add(pid);
    this.files.set(options.logFile, (this.files.get(options.logFile) ?? '') + (this.agentLog ?? 'ETCD_ENDPOINTS is invalid\n'));
    return { pid, onExit: () => undefined, unref: () => undefined };
  }
  isAlive(pid: number): boolean {
    return this.alive.has(pid);
  }
  kill(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
    this.signals.push([pid, signal]);
    if (signal === 'SIGKILL' || this.termStops) this.alive.delete(pid);
  }
}

class FakeContainers implements ContainerRuntime {
  images = new Set(['calicoctl/calico-node:0.0.0-test']);
  containers = new Map<string, ContainerState & { log: string }>();
  readonly calls: string[] = [];
  async imageExists(image: string): Promise<boolean> {
    return this.images.has(image);
  }
  async pull(image: string): Promise<void> {
    this.calls.push(`pull ${image}`);
    this.images.add(image);
  }
  async inspect(name: string): Promise<ContainerState | undefined> {
    return this.containers.get(name);
  }
  lastSpec: ContainerSpec | undefined;
  readonly specs: ContainerSpec[] = [];
  async run(spec: ContainerSpec): Promise<string> {
    this.calls.push(`run ${spec.name}`);
    this.lastSpec = spec;
    this.specs.push(spec);
    const id = 'abcdef0123456789';
    this.containers.set(spec.name, { id, running: true, status: 'running', image: spec.image, startedAt: '2026-01-01T00:00:00Z', labels: spec.labels, log: `${STARTED_MESSAGE}\n` });
    return id;
  }
  async logs(name: string): Promise<string> {
    return this.containers.get(name)?.log ?? '';
  }
  async stop(name: string): Promise<void> {
    this.calls.push(`stop ${name}`);
    const container = this.containers.get(name);
    if (container) this.containers.set(name, { ...container, running: false });
  }
  async remove(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.containers.delete(name);
  }
}

interface NodeWorld extends FakeWorld {
  fakeHost: FakeHost;
  fakeContainers: FakeContainers;
  tools: string[];
}

const BIRD_TOOLS = ['/usr/sbin/bird', '/usr/sbin/birdc', '/usr/sbin/bird6', '/usr/sbin/birdc6'];

/** A root host with every kernel module and tool, an etcd, and a Docker without containers. */
function nodeWorld(): NodeWorld {
  const world = fakeWorld() as NodeWorld;
  world.fakeHost = new FakeHost();
  world.fakeContainers = new FakeContainers();
  world.tools = [];
  world.system = world.fakeHost;
  world.containers = world.fakeContainers;
  world.runner = {
    run: async (file, args) => {
      world.tools.push([file, ...args].join(' '));
      return `${file} output\n`;
    },
  };
  const base = world.host;
  world.host = {
    ...base,
    readFile: (path) => world.fakeHost.files.get(path),
    exists: (path) => path.startsWith('/sys/module/') || BIRD_TOOLS.includes(path) || world.fakeHost.dirs.has(path) || world.fakeHost.files.has(path),
    writeFile: (path, text) => void world.fakeHost.files.set(path, text),
  };
  world.env = { HOSTNAME: 'host1', NO_DEFAULT_POOLS: 'true' };
  return world;
}

describe('calicoctl node', () => {
  it('--runtime=process registers the host, spawns the agent with its etcd settings, records its pid and waits for it', async () => {
    const world = nodeWorld();
    const result = await world.run(['node', '--runtime=process', '--detach=true']);
    expect(result).toEqual({ code: 0, stdout: `Calico node is running as process 4242 (log: ${LOG_FILE})\n`, stderr: expect.stringContaining('Running the agent as a host process:\n') });
    const spawned = world.fakeHost.spawned!;
    expect([spawned.file, ...spawned.args]).toEqual(['/usr/bin/node', '/opt/calicoctl/bin/calico-node', '--hostname', 'host1']);
    expect(spawned).toMatchObject({ detached: true, logFile: LOG_FILE, env: { HOSTNAME: 'host1', IP: '192.0.2.10', ETCD_ENDPOINTS: 'http://127.0.0.1:2379' } });
    expect(world.fakeHost.files.get(PID_FILE)).toBe('4242\n');
    expect(JSON.parse(world.fakeHost.files.get(PROCESS_FILE)!)).toMatchObject({ pid: 4242, logFile: LOG_FILE });
    expect(world.fakeHost.dirs).toEqual(new Set(['/var/log/calico', STATE_DIR]));
    expect(world.kv.dump()).toMatchObject({ '/calico/v1/host/host1/config/marker': expect.anything() });
    expect(world.fakeHost.files.get('/proc/sys/net/ipv4/ip_forward')).toBe('1');
  });

  it('fails with the end of the log when the agent dies before it started', async () => {
    const world = nodeWorld();
    world.fakeHost.agentLog = undefined;
    const result = await world.run(['node', '--runtime=process']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/calico-node stopped\. The end of its log:\nETCD_ENDPOINTS is invalid\n$/);
  });

  it('as a container: removes a leftover, runs calico-node and prints its short id', async () => {
    const world = nodeWorld();
    const result = await world.run(['node']);
    expect(result).toEqual({ code: 0, stdout: 'Calico node is running with id: abcdef012345\n', stderr: expect.stringContaining('Running the agent as a container:\ndocker run --detach --name=calico-node') });
    expect(world.fakeContainers.calls).toEqual(['remove calico-node', 'run calico-node']);
  });

  it('--no-pull refuses an image that is not on the host; without it the image is pulled', async () => {
    const world = nodeWorld();
    const other = 'example/calico-node:1';
    expect(await world.run(['node', `--node-image=${other}`, '--no-pull'])).toMatchObject({ code: 1, stderr: expect.stringContaining(`The image ${other} is not on this host and --no-pull was given.`) });
    expect(await world.run(['node', `--node-image=${other}`])).toMatchObject({ code: 0 });
    expect(world.fakeContainers.calls).toContain(`pull ${other}`);
  });

  it('shows no etcd password, in --dry-run or when it runs the agent', async () => {
    const world = nodeWorld();
    world.env = { ...world.env, ETCD_USERNAME: 'root', ETCD_PASSWORD: 's3cret word' };
    const dry = await world.run(['node', '--runtime=process', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`ETCD_PASSWORD_FILE=${PASSWORD_FILE}`);
    const real = await world.run(['node', '--runtime=process']);
    expect(real.code).toBe(0);
    expect(real.stderr).toContain(`ETCD_PASSWORD_FILE=${PASSWORD_FILE}`);
    expect(`${dry.stdout}${dry.stderr}${real.stdout}${real.stderr}`).not.toContain('s3cret');
    // The agent gets the password from a root-only file, not from its visible environment.
    expect(world.fakeHost.spawned?.env.ETCD_PASSWORD).toBeUndefined();
    expect(world.fakeHost.spawned?.env.ETCD_PASSWORD_FILE).toBe(PASSWORD_FILE);
    expect(world.fakeHost.files.get(PASSWORD_FILE)).toBe('s3cret word');
    expect(world.fakeHost.secrets.has(PASSWORD_FILE)).toBe(true);
  });

  it.each(["a b", "it's 'quoted'", 'say "hi" \\ there'])('the container agent with password %j: neither its environment, labels nor the dry run holds it; a changed password is other settings', async (password) => {
    const world = nodeWorld();
    world.env = { ...world.env, ETCD_USERNAME: 'root', ETCD_PASSWORD: password };
    const dry = await world.run(['node', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('ETCD_PASSWORD_FILE=');
    const real = await world.run(['node']);
    expect(real.code).toBe(0);
    const spec = world.fakeContainers.specs.at(-1)!;
    const visible = `${dry.stdout}${dry.stderr}${real.stdout}${real.stderr}${JSON.stringify(spec)}`;
    expect(visible).not.toContain(password);
    expect(visible).not.toMatch(/ETCD_PASSWORD=/);
    for (const word of password.split(/[\s'"\\]+/).filter((w) => w.length > 2)) expect(visible).not.toContain(word);
    expect(spec.env).toContain(`ETCD_PASSWORD_FILE=${PASSWORD_FILE}`);
    expect(world.fakeHost.files.get(PASSWORD_FILE)).toBe(password);
    // The same settings: nothing to do; another password: the running agent has other settings.
    expect((await world.run(['node'])).stdout).toContain('with these settings: nothing to do');
    world.env = { ...world.env, ETCD_PASSWORD: `${password}!` };
    expect((await world.run(['node'])).stderr).toContain('with other settings');
  });

  it('does nothing when the same agent already runs, and refuses other settings', async () => {
    const world = nodeWorld();
    await world.run(['node', '--runtime=process']);
    expect(await world.run(['node', '--runtime=process'])).toEqual({ code: 0, stdout: 'Calico node is already running (process 4242) with these settings: nothing to do.\n', stderr: '' });
    expect((await world.run(['node', '--runtime=process', '--name=other'])).stderr).toContain('with other settings');
  });

  it('makes the default IPv4 pool, and the default IPv6 pool when the kernel has IPv6, where there is none of that family', async () => {
    const withIpv6 = nodeWorld();
    withIpv6.env = { HOSTNAME: 'host1' };
    withIpv6.fakeHost.files.set('/proc/sys/net/ipv6/conf/all/forwarding', '0\n');
    expect((await withIpv6.run(['node', '--runtime=process', '--dry-run'])).stdout).toContain(
      'the default pool 192.168.0.0/16 if there is no IPv4 pool and fd80:24e2:f998:72d6::/64 if there is no IPv6 pool.\n',
    );
    const started = await withIpv6.run(['node', '--runtime=process']);
    expect(started.stderr).toContain('Created the default IPv4 pool 192.168.0.0/16\nCreated the default IPv6 pool fd80:24e2:f998:72d6::/64\n');
    expect(Object.keys(withIpv6.kv.dump()).filter((key) => key.includes('/pool/'))).toEqual(['/calico/v1/ipam/v4/pool/192.168.0.0-16', '/calico/v1/ipam/v6/pool/fd80:24e2:f998:72d6::-64']);

    const withoutIpv6 = nodeWorld();
    withoutIpv6.env = { HOSTNAME: 'host1' };
    withoutIpv6.kv.seed('/calico/v1/ipam/v4/pool/10.1.0.0-16', { cidr: '10.1.0.0/16' });
    expect((await withoutIpv6.run(['node', '--runtime=process', '--dry-run'])).stdout).toContain('the default pool 192.168.0.0/16 if there is no IPv4 pool.\n');
    expect((await withoutIpv6.run(['node', '--runtime=process'])).stderr).not.toContain('Created the default');
    expect(Object.keys(withoutIpv6.kv.dump()).filter((key) => key.includes('/pool/'))).toEqual(['/calico/v1/ipam/v4/pool/10.1.0.0-16']);
  });

  it('needs root', async () => {
    const world = nodeWorld();
    world.host = { ...world.host, isRoot: () => false };
    expect(await world.run(['node'])).toEqual({ code: 1, stdout: '', stderr: 'This command must be run as root.\n' });
  });
});

describe('calicoctl node --as and --backend', () => {
  const AS_KEY = '/calico/bgp/v1/host/host1/as_num';

  it('--as (dotted or asplain) is stored as the host\'s AS and passed to the agent with the backend', async () => {
    const world = nodeWorld();
    expect((await world.run(['node', '--runtime=process', '--as=1.5'])).code).toBe(0);
    expect((await world.kv.get(AS_KEY))?.value).toBe('65541');
    expect(world.fakeHost.spawned?.env).toMatchObject({ AS: '65541', CALICO_NETWORKING_BACKEND: 'bird' });
  });

  it('without --as the host\'s own AS is deleted: it inherits the default again', async () => {
    const world = nodeWorld();
    world.kv.seed(AS_KEY, '65000');
    expect((await world.run(['node', '--runtime=process'])).code).toBe(0);
    expect(await world.kv.get(AS_KEY)).toBeUndefined();
    expect(world.fakeHost.spawned?.env).toMatchObject({ AS: '', CALICO_NETWORKING_BACKEND: 'bird' });
  });

  it('a bad --as, or --backend=gobgp: one line, exit 1, nothing written or started', async () => {
    for (const [argv, message] of [
      [['node', '--as=65536.0'], 'Invalid AS Number specified.'],
      [['node', '--as', 'big'], 'Invalid AS Number specified.'],
      [['node', '--backend=gobgp'], 'The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.'],
      [['node', '--backend=gobgp', '--dry-run'], 'The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.'],
    ] as const) {
      const world = nodeWorld();
      expect(await runUnchanged(world, [...argv])).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
      expect(world.fakeContainers.calls).toEqual([]);
      expect(world.fakeHost.spawned).toBeUndefined();
    }
    expect((await nodeWorld().run(['node', '--backend=quagga'])).code).toBe(2);
  });

  it('the container gets the backend, the AS and the Docker socket (DOCKER_HOST\'s when it is a unix socket)', async () => {
    const world = nodeWorld();
    expect((await world.run(['node', '--backend=none', '--as=64512'])).code).toBe(0);
    expect(world.fakeContainers.lastSpec?.env).toEqual(expect.arrayContaining(['CALICO_NETWORKING_BACKEND=none', 'AS=64512']));
    expect(world.fakeContainers.lastSpec?.binds).toContain('/var/run/docker.sock:/var/run/docker.sock');
    const other = nodeWorld();
    other.env = { ...other.env, DOCKER_HOST: 'unix:///srv/docker/engine.sock' };
    const dry = await other.run(['node', '--dry-run']);
    expect(dry.stdout).toContain('--volume=/srv/docker/engine.sock:/var/run/docker.sock');
    expect(dry.stdout).toContain('AS inherited from the default');
    expect(dry.stdout).toContain('--env=CALICO_NETWORKING_BACKEND=bird --env=AS=');
  });

  it('takes v0.23\'s old flags: --libnetwork and --libnetwork-image with a one-line note, a bare backend word ignored', async () => {
    const world = nodeWorld();
    const result = await world.run(['node', 'none', '--runtime=process', '--libnetwork', '--libnetwork-image=calico/node-libnetwork:v0.10.0']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Note: --libnetwork and --libnetwork-image are ignored: calico-node always serves the Docker network and IPAM plugin.\n');
    // As in v0.23, the bare word does not set the backend.
    expect(world.fakeHost.spawned?.env).toMatchObject({ CALICO_NETWORKING_BACKEND: 'bird' });
  });

  it('refuses rkt, and --libnetwork with --detach=false, in one line with nothing written or started', async () => {
    for (const [argv, message] of [
      [['node', '--runtime=rkt'], 'The rkt runtime is not supported: use --runtime=docker (a container) or --runtime=process (a host process).'],
      [['node', '--libnetwork', '--detach=false'], "The only valid value for --detach is 'true' when using libnetwork"],
    ] as const) {
      const world = nodeWorld();
      expect(await runUnchanged(world, [...argv])).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
      expect(world.fakeContainers.calls).toEqual([]);
      expect(world.fakeHost.spawned).toBeUndefined();
    }
    expect((await nodeWorld().run(['node', 'quagga'])).code).toBe(2);
  });

  it('CALICO_NETWORKING=false without --backend means none, with a deprecation warning', async () => {
    const world = nodeWorld();
    world.env = { ...world.env, CALICO_NETWORKING: 'false' };
    const result = await world.run(['node', '--runtime=process']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("WARNING: CALICO_NETWORKING will be deprecated: use '--backend' instead\n");
    expect(world.fakeHost.spawned?.env).toMatchObject({ CALICO_NETWORKING_BACKEND: 'none' });
  });

  it('as a host process with backend bird, the host needs BIRD; with --backend=none it does not', async () => {
    const world = nodeWorld();
    world.host = { ...world.host, exists: (path) => path.startsWith('/sys/module/') || world.fakeHost.dirs.has(path) };
    const result = await world.run(['node', '--runtime=process']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAIL BIRD (IPv4): bird and birdc not found in PATH');
    expect((await world.run(['node', '--runtime=process', '--backend=none'])).code).toBe(0);
  });
});

describe('calicoctl node stop', () => {
  it('stops a host-process agent with SIGTERM and removes its pid files', async () => {
    const world = nodeWorld();
    await world.run(['node', '--runtime=process']);
    expect(await world.run(['node', 'stop'])).toEqual({ code: 0, stdout: 'Node stopped\n', stderr: '' });
    expect(world.fakeHost.signals).toEqual([[4242, 'SIGTERM']]);
    expect(world.fakeHost.files.has(PID_FILE) || world.fakeHost.files.has(PROCESS_FILE)).toBe(false);
  });

  it('stops and removes the container agent', async () => {
    const world = nodeWorld();
    await world.run(['node']);
    expect(await world.run(['node', 'stop'])).toEqual({ code: 0, stdout: 'Node stopped\n', stderr: '' });
    expect(world.fakeContainers.calls.slice(-2)).toEqual(['stop calico-node', 'remove calico-node']);
  });

  it('refuses while this host has endpoints, unless --force; says so when nothing runs', async () => {
    const world = nodeWorld();
    seedEndpoint(world, { host: 'host1', id: 'e1', profiles: [] });
    expect((await world.run(['node', 'stop'])).stderr).toBe("Current host has active endpoints so can't be stopped.  Force with --force (1 endpoints on host1).\n");
    expect(await world.run(['node', 'stop', '--force'])).toEqual({ code: 0, stdout: 'Calico node was not running.\n', stderr: '' });
  });
});

describe('calicoctl node remove', () => {
  it('--remove-endpoints deletes only cali interfaces: a stored name such as docker0 is left alone, with a warning', async () => {
    const world = nodeWorld();
    seedEndpoint(world, { host: 'host1', id: 'e1', profiles: [] });
    const endpoint = (id: string, name: string) => ({ state: 'active', name, mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [], ipv4_nets: [], ipv6_nets: [], labels: {} });
    world.kv.seed('/calico/v1/host/host1/workload/libnetwork/libnetwork/endpoint/e2', endpoint('e2', 'docker0'));
    world.kv.seed('/calico/v1/host/host1/workload/libnetwork/libnetwork/endpoint/e3', endpoint('e3', 'cali1; rm -rf'));
    const result = await world.run(['node', 'remove', '--remove-endpoints']);
    expect(result.code).toBe(0);
    expect(world.tools.filter((t) => t.startsWith('ip link del'))).toEqual(['ip link del calie1']);
    expect(result.stderr).toContain('Warning: not deleting the interface "docker0" of endpoint e2');
    expect(result.stderr).toContain('"cali1; rm -rf"');
    expect(result.stdout).toBe('Node configuration removed\n');
  });
});

describe('calicoctl status', () => {
  it('lists each item the agent could not apply, the rest having been applied', async () => {
    const world = nodeWorld();
    await world.run(['node', '--runtime=process']);
    const failures = [{ item: 'IPv4 set cali4-t-web', error: '192.168.1.99: Kernel error received: refused' }];
    world.fakeHost.files.set(`${STATE_DIR}/${STATUS_FILE}`, JSON.stringify({ version: '1.0', lastApply: { at: '2026-01-01T00:00:01Z', ok: false, durationMs: 3, error: '1 items could not be applied', failures } }));
    const result = await world.run(['status']);
    expect(result.stdout).toContain('Dataplane: the last apply at 2026-01-01T00:00:01Z FAILED: 1 items could not be applied\n  IPv4 set cali4-t-web: 192.168.1.99: Kernel error received: refused\n');
  });

  it('reports the running agent, etcd, the host and the last dataplane apply', async () => {
    const world = nodeWorld();
    await world.run(['node', '--runtime=process']);
    world.fakeHost.files.set(`${STATE_DIR}/${STATUS_FILE}`, JSON.stringify({ version: '1.0', lastApply: { at: '2026-01-01T00:00:01Z', ok: true, durationMs: 12 } }));
    const result = await world.run(['status']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^calico-node is running as a host process \(process 4242, since .*\)\.\n/);
    expect(result.stdout).toContain('etcd: reachable at http://127.0.0.1:2379');
    expect(result.stdout).toContain('Host host1: 0 endpoints; 0 profiles in etcd.\n');
    expect(result.stdout).toContain('Dataplane: last applied at 2026-01-01T00:00:01Z (ok, 12 ms).\n');
  });

  it('exits 1 when the agent is not running', async () => {
    const world = nodeWorld();
    const result = await world.run(['status', '-o', 'json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ agent: { running: false }, etcd: { reachable: true }, dataplane: {} });
    expect(result.stderr).toBe('calico-node is not running: start it with calicoctl node.\n');
  });
});

describe('calicoctl status: BGP', () => {
  const PROTOCOLS = [
    'BIRD 1.6.8 ready.',
    'name     proto    table    state  since       info',
    'static1  Static   master   up     00:01:02    ',
    'kernel1  Kernel   master   up     00:01:02    ',
    'device1  Device   master   up     00:01:02    ',
    'direct1  Direct   master   up     00:01:02    ',
    'Mesh_192_0_2_20 BGP      master   up     00:01:05    Established   ',
    'Node_192_0_2_30 BGP      master   start  00:01:05    Active        Socket: Connection refused',
    'Global_192_0_2_40 BGP      master   down   00:01:02    ',
    '',
  ].join('\n');
  const PROTOCOLS6 = ['BIRD 1.6.8 ready.', 'name     proto    table    state  since       info', 'Mesh_fd00__20 BGP      master   up     00:01:05    Established', ''].join('\n');

  const birdWorld = () => {
    const world = nodeWorld();
    world.kv.seed('/calico/v1/host/host1/bird_ip', '192.0.2.10');
    world.fakeHost.files.set(`${STATE_DIR}/bird.ctl`, '');
    world.runner = {
      run: async (file, args) => {
        world.tools.push([file, ...args].join(' '));
        if (file === 'birdc') return PROTOCOLS;
        if (file === 'birdc6') return PROTOCOLS6;
        return `${file} output\n`;
      },
    };
    return world;
  };
  it("prints v0.23's IPv4 table from birdc show protocols: peers by kind, BIRD's other protocols left out", async () => {
    const world = birdWorld();
    await world.run(['node', '--runtime=process']);
    const result = await world.run(['status']);
    expect(result.code).toBe(0);
    expect(world.tools).toContain(`birdc -s ${STATE_DIR}/bird.ctl show protocols`);
    expect(world.tools.filter((t) => t.startsWith('birdc6'))).toEqual([]);
    const text = result.stdout.slice(result.stdout.indexOf('\nIPv4 BGP status'));
    expect(text).toBe(
      [
        '',
        'IPv4 BGP status',
        'IP: 192.0.2.10    AS Number: 64511 (inherited)',
        '+--------------+-------------------+-------+----------+------------------------------------------+',
        '| Peer address |     Peer type     | State |  Since   |                   Info                   |',
        '+--------------+-------------------+-------+----------+------------------------------------------+',
        '|  192.0.2.20  | node-to-node mesh |   up  | 00:01:05 |               Established                |',
        '|  192.0.2.30  |   node specific   | start | 00:01:05 | Active        Socket: Connection refused |',
        '|  192.0.2.40  |       global      |  down | 00:01:02 |                                          |',
        '+--------------+-------------------+-------+----------+------------------------------------------+',
        '',
        'IPv6 BGP status',
        'No IPv6 address configured.',
        '',
        '',
      ].join('\n'),
    );
  });

  it('the host\'s own AS, IPv6 from bird6.ctl with birdc6, and -o json with the same data', async () => {
    const world = birdWorld();
    world.kv.seed('/calico/bgp/v1/host/host1/ip_addr_v6', 'fd00::10');
    world.kv.seed('/calico/bgp/v1/host/host1/as_num', '65010');
    world.fakeHost.files.set(`${STATE_DIR}/bird6.ctl`, '');
    const result = await world.run(['status', '-o', 'json']);
    expect(world.tools).toContain(`birdc6 -s ${STATE_DIR}/bird6.ctl show protocols`);
    expect(JSON.parse(result.stdout).bgp).toEqual({
      backend: 'bird',
      ipv4: {
        ip: '192.0.2.10',
        asNum: '65010',
        asInherited: false,
        peers: [
          { address: '192.0.2.20', type: 'node-to-node mesh', state: 'up', since: '00:01:05', info: 'Established' },
          { address: '192.0.2.30', type: 'node specific', state: 'start', since: '00:01:05', info: 'Active        Socket: Connection refused' },
          { address: '192.0.2.40', type: 'global', state: 'down', since: '00:01:02', info: '' },
        ],
      },
      ipv6: { ip: 'fd00::10', asNum: '65010', asInherited: false, peers: [{ address: 'fd00::20', type: 'node-to-node mesh', state: 'up', since: '00:01:05', info: 'Established' }] },
    });
    const text = (await world.run(['status'])).stdout;
    expect(text).toContain('IP: fd00::10    AS Number: 65010\n');
    expect(text).toContain('|   fd00::20   | node-to-node mesh |   up  | 00:01:05 | Established |');
  });

  it('BIRD not running (no socket), not installed, or backend none: one line, not a failure', async () => {
    const noSocket = birdWorld();
    noSocket.fakeHost.files.delete(`${STATE_DIR}/bird.ctl`);
    await noSocket.run(['node', '--runtime=process']);
    const a = await noSocket.run(['status']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain(`IP: 192.0.2.10    AS Number: 64511 (inherited)\nBIRD is not running (no ${STATE_DIR}/bird.ctl).\n\n`);

    const missing = birdWorld();
    missing.runner = { run: async (file) => { throw new Error(`spawn ${file} ENOENT`); } };
    expect((await missing.run(['status'])).stdout).toContain("birdc is not installed: BIRD's sessions cannot be shown.\n");

    const refused = birdWorld();
    refused.runner = { run: async () => { throw new Error('birdc -s /var/run/calico/bird.ctl show protocols failed (exit 1): Unable to connect to server control socket'); } };
    expect((await refused.run(['status'])).stdout).toContain(`Could not ask BIRD (birdc -s ${STATE_DIR}/bird.ctl): birdc -s /var/run/calico/bird.ctl show protocols failed (exit 1): Unable to connect to server control socket\n`);

    const none = birdWorld();
    const result = await none.run(['status', '--backend=none']);
    expect(result.stdout).toContain('IP: 192.0.2.10    AS Number: 64511 (inherited)\nBIRD is not run on this host (backend none).\n\n');
    expect(none.tools.filter((t) => t.startsWith('birdc'))).toEqual([]);
  });

  it('asks the BIRD in the calico-node container when the host has no birdc and the agent runs as a container', async () => {
    const world = birdWorld();
    world.runner = {
      run: async (file, args) => {
        world.tools.push([file, ...args].join(' '));
        if (file === 'birdc' || file === 'birdc6') throw new Error(`spawn ${file} ENOENT`);
        if (file === 'docker' && args[2] === 'birdc') return PROTOCOLS;
        return `${file} output\n`;
      },
    };
    expect(await world.run(['node'])).toMatchObject({ code: 0 });
    const result = await world.run(['status']);
    expect(world.tools).toContain(`docker exec calico-node birdc -s ${STATE_DIR}/bird.ctl show protocols`);
    expect(result.stdout).toContain('|  192.0.2.20  | node-to-node mesh |   up  | 00:01:05 |');
    // A host process has no container to ask.
    const processWorld = birdWorld();
    expect((await processWorld.run(['node', '--runtime=process'])).code).toBe(0);
    processWorld.runner = { run: async (file) => { throw new Error(`spawn ${file} ENOENT`); } };
    expect((await processWorld.run(['status'])).stdout).toContain("birdc is not installed: BIRD's sessions cannot be shown.\n");
  });

  it('--backend=gobgp: one line, exit 1', async () => {
    expect(await birdWorld().run(['status', '--backend=gobgp'])).toEqual({ code: 1, stdout: '', stderr: 'The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.\n' });
  });

  it('takes v0.23\'s --runtime: docker is what it checks, rkt and anything else is one line, exit 1', async () => {
    expect(await birdWorld().run(['status', '--runtime=docker'])).toEqual(await birdWorld().run(['status']));
    expect(await birdWorld().run(['status', '--runtime=rkt'])).toEqual({ code: 1, stdout: '', stderr: 'The rkt runtime is not supported: calico-node runs as a Docker container or as a host process.\n' });
    expect(await birdWorld().run(['status', '--runtime=lxc'])).toEqual({ code: 1, stdout: '', stderr: "Invalid runtime specified: 'lxc'\n" });
    expect(await birdWorld().run(['checksystem', '--runtime=lxc'])).toEqual({ code: 1, stdout: '', stderr: "Invalid runtime specified: 'lxc'\n" });
  });
});

describe('calicoctl checksystem: BIRD', () => {
  it('checks bird and birdc (FAIL when missing) and bird6 and birdc6 (WARN), unless --backend=none', async () => {
    const world = nodeWorld();
    const ok = await world.run(['checksystem']);
    expect(ok.stdout).toContain('OK   BIRD (IPv4): bird and birdc installed\nOK   BIRD (IPv6): bird6 and birdc6 installed\n');
    world.host = { ...world.host, exists: (path) => path.startsWith('/sys/module/') || path === '/usr/sbin/bird' };
    const missing = await world.run(['checksystem']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('FAIL BIRD (IPv4): birdc not found in PATH: install BIRD 1.6 (e.g. apt-get install bird), or use --backend=none\n');
    expect(missing.stdout).toContain('WARN BIRD (IPv6): bird6 and birdc6 not found in PATH');
    expect((await world.run(['checksystem', '--backend=none'])).stdout).not.toContain('BIRD');
    world.env = { ...world.env, PATH: '/opt/bird/bin' };
    world.host = { ...world.host, exists: (path) => path.startsWith('/sys/module/') || path.startsWith('/opt/bird/bin/') };
    expect((await world.run(['checksystem'])).stdout).toContain('OK   BIRD (IPv4)');
  });
});

describe('calicoctl diags', () => {
  it('collects kernel state, the etcd tree and the logs, then packs them', async () => {
    const world = nodeWorld();
    world.fakeHost.files.set('/var/log/calico/calico-node.log', 'a log line\n');
    world.kv.seed('/calico/v1/policy/profile/web/tags', ['web']);
    const result = await world.run(['diags']);
    expect(result.stderr).toBe('Collecting kernel state (iptables, ipsets, routes)...\nCollecting the etcd /calico tree...\nCollecting logs...\nWriting the tarball...\n');
    expect(result.code).toBe(0);
    const tarball = result.stdout.trim();
    expect(tarball).toMatch(/^\/tmp\/calico-diags-0\/diags-\d{8}T\d{6}\.tar\.gz$/);
    const dir = tarball.replace(/\.tar\.gz$/, '');
    expect(world.fakeHost.files.get(`${dir}/iptables-save.txt`)).toBe('iptables-save output\n');
    expect(JSON.parse(world.fakeHost.files.get(`${dir}/etcd-calico.json`)!).keys).toEqual({ '/calico/v1/policy/profile/web/tags': '["web"]' });
    expect(world.fakeHost.files.get(`${dir}/logs/calico-node.log`)).toBe('a log line\n');
    expect(world.tools[world.tools.length - 1]).toMatch(/^tar -C \/tmp\/calico-diags-0 -czf .*\.tar\.gz diags-/);
  });
});
