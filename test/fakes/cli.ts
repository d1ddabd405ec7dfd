import type { Deps, Environment } from '../../src/cli/context';
import { main } from '../../src/cli/main';
import type { DockerNetwork, NetworkLister } from '../../src/docker/engine';
import { DockerUnavailableError } from '../../src/docker/engine';
import { MemoryKvStore } from './memory-kv';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fake Docker Engine: a list of networks, or unreachable when `networks` is undefined. */
export class FakeDocker implements NetworkLister {
  constructor(public networks: DockerNetwork[] | undefined = []) {}
  async listNetworks(): Promise<DockerNetwork[]> {
    if (!this.networks) throw new DockerUnavailableError('Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket). Is the Docker daemon running? Check DOCKER_HOST.');
    return this.networks;
  }
}

export interface FakeWorld {
  kv: MemoryKvStore;
  docker: FakeDocker;
  env: Environment;
  /** Runs calicoctl in-process with these fakes. */
  run(argv: string[], options?: { stdin?: string; tty?: boolean }): Promise<RunResult>;
}

export function fakeWorld(): FakeWorld {
  const world: FakeWorld = {
    kv: new MemoryKvStore(),
    docker: new FakeDocker(),
    env: {},
    async run(argv, options = {}) {
      let stdout = '';
      let stderr = '';
      const deps: Deps = {
        io: {
          out: { write: (text: string) => (stdout += text) },
          err: { write: (text: string) => (stderr += text) },
          readStdin: async () => options.stdin ?? '',
          stdoutIsTTY: options.tty === true,
          stdinIsTTY: false,
        },
        env: world.env,
        version: '0.0.0-test',
        openKv: () => world.kv,
        openDocker: () => world.docker,
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
