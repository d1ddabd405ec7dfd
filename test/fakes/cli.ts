import type { Deps, Environment } from '../../src/cli/context';
import type { HostSystem } from '../../src/cli/host-system';
import type { ContainerRuntime } from '../../src/docker/containers';
import type { CommandRunner } from '../../src/host/exec';
import { main } from '../../src/cli/main';
import type { ContainerDetails, DockerContainer, DockerNetwork, NetworkLister } from '../../src/docker/engine';
import { DockerUnavailableError } from '../../src/docker/engine';
import type { HostFacts } from '../../src/host/facts';
import { MemoryKvStore } from './memory-kv';

const UNREACHABLE = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket). Is the Docker daemon running? Check DOCKER_HOST.';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fake Docker Engine: a list of networks, or unreachable when `networks` is undefined. */
export class FakeDocker implements NetworkLister {
  /** The containers `diags --check` sees (unreachable with the networks). */
  containers: DockerContainer[] = [];

  /** The containers `calicoctl container` inspects, by name or ID (unreachable with the networks). */
  inspectable: (ContainerDetails & { name: string })[] = [];

  constructor(public networks: DockerNetwork[] | undefined = []) {}

  async inspectContainer(name: string): Promise<ContainerDetails | undefined> {
    if (!this.networks) throw new DockerUnavailableError(UNREACHABLE);
    const exact = this.inspectable.find((c) => c.name === name || c.id === name);
    const byPrefix = this.inspectable.filter((c) => name !== '' && c.id.startsWith(name));
    const found = exact ?? (byPrefix.length === 1 ? byPrefix[0] : undefined);
    return found && { id: found.id, running: found.running, pid: found.pid, networkMode: found.networkMode };
  }
  async listNetworks(): Promise<DockerNetwork[]> {
    if (!this.networks) throw new DockerUnavailableError(UNREACHABLE);
    return this.networks;
  }

  async listContainers(): Promise<DockerContainer[]> {
    if (!this.networks) throw new DockerUnavailableError(UNREACHABLE);
    return this.containers;
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    if (!this.networks) throw new DockerUnavailableError(UNREACHABLE);
    return { version: '20.10.24', apiVersion: '1.41' };
  }
}

export interface FakeWorld {
  kv: MemoryKvStore;
  host: HostFacts;
  docker: FakeDocker;
  env: Environment;
  /** Files and processes, containers and host tools: unavailable unless a test puts fakes here. */
  system: HostSystem;
  containers: ContainerRuntime | undefined;
  runner: CommandRunner;
  /** Runs calicoctl in-process with these fakes. */
  run(argv: string[], options?: { stdin?: string; tty?: boolean }): Promise<RunResult>;
}

export function fakeWorld(): FakeWorld {
  const world: FakeWorld = {
    kv: new MemoryKvStore(),
    host: {
      isRoot: () => true,
      hostname: () => 'host1',
      addresses: () => [{ iface: 'eth0', address: '192.0.2.10', family: 4 }],
      readFile: () => undefined,
      exists: () => false,
      writeFile: () => undefined,
    },
    docker: new FakeDocker(),
    env: {},
    system: new Proxy({} as HostSystem, { get: (_, name) => () => { throw new Error(`${String(name)}: no host system in in-process tests`); } }),
    containers: undefined,
    runner: { run: async (file) => { throw new Error(`${file}: not available in in-process tests`); } },
    async run(argv, options = {}) {
      let stdout = '';
      let stderr = '';
      const deps: Deps = {
        io: {
          out: { write: (text: string) => (stdout += text) },
          err: { write: (text: string) => (stderr += text) },
          readStdin: async () => options.stdin ?? '',
          stdoutIsTTY: options.tty === true,
          stderrIsTTY: false,
          stdinIsTTY: false,
        },
        env: world.env,
        version: '0.0.0-test',
        openKv: () => world.kv,
        openDocker: () => world.docker,
        openContainers: () => {
          if (!world.containers) throw new Error('no container runtime in in-process tests');
          return world.containers;
        },
        host: world.host,
        runner: world.runner,
        system: world.system,
        agentCommand: ['/usr/bin/node', '/opt/calicoctl/bin/calico-node'],
      };
      const code = await main(argv, deps);
      return { code, stdout, stderr };
    },
  };
  return world;
}

/** A 64-hex network ID derived from a name, stable across runs. */
export function networkId(name: string): string {
  return Buffer.from(name.padEnd(32, '.')).toString('hex').slice(0, 64).padEnd(64, '0');
}
