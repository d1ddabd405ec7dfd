import type Dockerode from 'dockerode';
import { DockerUnavailableError } from './engine';

/** What `calicoctl node` asks of Docker: the calico-node container's life cycle. */
export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly binds: readonly string[];
  readonly capAdd: readonly string[];
  readonly securityOpt: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerState {
  readonly id: string;
  readonly running: boolean;
  readonly status: string;
  readonly image: string;
  readonly startedAt: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerRuntime {
  imageExists(image: string): Promise<boolean>;
  pull(image: string): Promise<void>;
  inspect(name: string): Promise<ContainerState | undefined>;
  /** Creates and starts the container (host network, restart always); resolves to its ID. */
  run(spec: ContainerSpec): Promise<string>;
  logs(name: string): Promise<string>;
  stop(name: string): Promise<void>;
  remove(name: string): Promise<void>;
}

/**
 * Container management through dockerode, which is loaded only here: it costs ~100 ms, and only
 * `calicoctl node`, `node stop`, `status` and `diags` need it. Errors become DockerUnavailableError.
 */
export class DockerodeContainers implements ContainerRuntime {
  private readonly docker: Dockerode;

  constructor(timeoutMs: number) {
    const DockerodeClass = require('dockerode') as typeof Dockerode;
    // dockerode reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself.
    this.docker = new DockerodeClass({ timeout: timeoutMs } as Dockerode.DockerOptions);
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw wrap(error);
    }
  }

  async pull(image: string): Promise<void> {
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
    } catch (error) {
      throw new DockerUnavailableError(`Unable to download the Docker image ${image}: ${messageOf(error)}`);
    }
  }

  async inspect(name: string): Promise<ContainerState | undefined> {
    try {
      const info = await this.docker.getContainer(name).inspect();
      return {
        id: info.Id,
        running: info.State.Running,
        status: info.State.Status,
        image: info.Config.Image,
        startedAt: info.State.StartedAt,
        labels: info.Config.Labels ?? {},
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw wrap(error);
    }
  }

  async run(spec: ContainerSpec): Promise<string> {
    // `--security-opt systempaths=unconfined` is docker CLI shorthand; the Engine API spells it as
    // empty masked and read-only path lists (what lets the agent write /proc/sys/net).
    const unconfined = spec.securityOpt.includes('systempaths=unconfined');
    try {
      const container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Cmd: [...spec.cmd],
        Env: [...spec.env],
        Labels: { ...spec.labels },
        HostConfig: {
          NetworkMode: 'host',
          RestartPolicy: { Name: 'always' },
          Binds: [...spec.binds],
          CapAdd: [...spec.capAdd],
          SecurityOpt: spec.securityOpt.filter((opt) => opt !== 'systempaths=unconfined'),
          ...(unconfined && { MaskedPaths: [], ReadonlyPaths: [] }),
        },
      });
      await container.start();
      return container.id;
    } catch (error) {
      throw wrap(error);
    }
  }

  async logs(name: string): Promise<string> {
    try {
      const buffer = (await this.docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return demux(buffer);
    } catch (error) {
      if (statusOf(error) === 404) return '';
      throw wrap(error);
    }
  }

  async stop(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).stop({ t: 10 });
    } catch (error) {
      const status = statusOf(error);
      if (status === 304 || status === 404) return; // already stopped, or gone
      throw wrap(error);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).remove({ force: true });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw wrap(error);
    }
  }
}

/** Docker's log stream interleaves stdout and stderr in frames with an 8-byte header. */
function demux(buffer: Buffer): string {
  if (buffer.length < 8 || (buffer[0] !== 1 && buffer[0] !== 2) || buffer[1] !== 0) return buffer.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

function messageOf(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  return (json?.message ?? (error as Error).message ?? String(error)).replace(/\s+/g, ' ').trim();
}

function wrap(error: unknown): DockerUnavailableError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES') {
    return new DockerUnavailableError(`Cannot connect to the Docker daemon (${code}). Is the Docker daemon running? Check DOCKER_HOST.`);
  }
  return new DockerUnavailableError(`Docker: ${messageOf(error)}`);
}
