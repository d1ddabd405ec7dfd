import { CalicoError } from '../errors';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';

/** The Docker Engine could not be reached, or refused a request. */
export class DockerUnavailableError extends CalicoError {
  readonly code = 'docker-unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'DockerUnavailableError';
  }
}

export interface DockerNetwork {
  readonly id: string;
  readonly name: string;
  readonly driver: string;
}

/** A container's place on one network, as Docker records it (`EndpointID` is empty while it is stopped). */
export interface ContainerNetwork {
  readonly networkId: string;
  readonly endpointId: string;
  /** Its IPv4 and IPv6 addresses on that network, without prefix lengths. */
  readonly addresses: readonly string[];
}

export interface DockerContainer {
  readonly id: string;
  readonly name: string;
  readonly networks: readonly ContainerNetwork[];
  /**
   * Whether it has its network now: running or paused. Docker gives a container its endpoints
   * when it starts and takes them back when it stops, but a stopped container's listing can still
   * name the endpoint it had (seen after dockerd was killed while the plugin was down).
   */
  readonly running: boolean;
}

/** One container as `calicoctl container` needs it: its full ID, and the process whose network namespace it uses. */
export interface ContainerDetails {
  readonly id: string;
  readonly running: boolean;
  /** The PID of its first process (0 while it is not running). */
  readonly pid: number;
  /** Docker's HostConfig.NetworkMode: `none`, `default`, `bridge`, `host`, `container:<id>`, a network name. */
  readonly networkMode: string;
}

/** What calicoctl asks the Docker Engine about networks (and, for `diags --check`, the containers on them). */
export interface NetworkLister {
  listNetworks(): Promise<DockerNetwork[]>;
  /** Every container, running or not, with its networks. */
  listContainers(): Promise<DockerContainer[]>;
  /** A container by name, ID or unique ID prefix, as `docker inspect` finds it; undefined when there is none. */
  inspectContainer(name: string): Promise<ContainerDetails | undefined>;
  version(): Promise<{ version: string; apiVersion: string }>;
}

interface Target {
  readonly description: string;
  readonly options: http.RequestOptions;
  readonly transport: typeof http | typeof https;
}

/**
 * A minimal Docker Engine API client for the one read the profile commands need. dockerode costs
 * ~100 ms to load (it pulls in ssh2 and gRPC), which would double the latency of every
 * `calicoctl profile <network> …`; it is kept for the container management of `calicoctl node`.
 * Honours DOCKER_HOST (unix:// or tcp://), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as docker does.
 */
export class DockerEngine implements NetworkLister {
  private readonly target: Target;

  constructor(
    env: Readonly<Record<string, string | undefined>>,
    private readonly timeoutMs: number,
    private readonly trace?: (line: string) => void,
  ) {
    this.target = resolveTarget(env);
  }

  /** The engine's version and API version, e.g. 20.10.24 and 1.41. */
  async version(): Promise<{ version: string; apiVersion: string }> {
    const body = (await this.get('/version')) as { Version?: unknown; ApiVersion?: unknown };
    return { version: String(body.Version ?? 'unknown'), apiVersion: String(body.ApiVersion ?? 'unknown') };
  }

  /**
   * The engine's name and its cluster store (`dockerd --cluster-store`, empty without one). With a
   * cluster store, a network made on one host exists on all of them, with one ID.
   */
  async info(): Promise<{ name: string; clusterStore: string }> {
    const body = (await this.get('/info')) as { Name?: unknown; ClusterStore?: unknown };
    return { name: String(body.Name ?? ''), clusterStore: typeof body.ClusterStore === 'string' ? body.ClusterStore : '' };
  }

  async listNetworks(): Promise<DockerNetwork[]> {
    const body = await this.get('/networks');
    if (!Array.isArray(body)) throw new DockerUnavailableError(`Unexpected answer from Docker at ${this.target.description} to GET /networks.`);
    return body.map((n: { Id?: unknown; Name?: unknown; Driver?: unknown }) => ({
      id: String(n.Id ?? ''),
      name: String(n.Name ?? ''),
      driver: String(n.Driver ?? ''),
    }));
  }

  async listContainers(): Promise<DockerContainer[]> {
    const body = await this.get('/containers/json?all=1');
    if (!Array.isArray(body)) throw new DockerUnavailableError(`Unexpected answer from Docker at ${this.target.description} to GET /containers/json.`);
    type Net = { NetworkID?: unknown; EndpointID?: unknown; IPAddress?: unknown; GlobalIPv6Address?: unknown };
    return body.map((c: { Id?: unknown; Names?: unknown; State?: unknown; NetworkSettings?: { Networks?: Record<string, Net> } }) => ({
      id: String(c.Id ?? ''),
      name: Array.isArray(c.Names) && typeof c.Names[0] === 'string' ? c.Names[0].replace(/^\//, '') : String(c.Id ?? '').slice(0, 12),
      networks: Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => ({
        networkId: String(n.NetworkID ?? ''),
        endpointId: String(n.EndpointID ?? ''),
        addresses: [n.IPAddress, n.GlobalIPv6Address].filter((a): a is string => typeof a === 'string' && a !== ''),
      })),
      running: c.State === 'running' || c.State === 'paused',
    }));
  }

  async inspectContainer(name: string): Promise<ContainerDetails | undefined> {
    // A name with a slash or a dot-dot would address another endpoint of the API: such a name is no container's.
    if (name === '' || name.includes('/') || name === '.' || name === '..') return undefined;
    const body = (await this.get(`/containers/${encodeURIComponent(name)}/json`, true)) as
      | { Id?: unknown; State?: { Running?: unknown; Pid?: unknown }; HostConfig?: { NetworkMode?: unknown } }
      | undefined;
    if (body === undefined) return undefined;
    return {
      id: String(body.Id ?? ''),
      running: body.State?.Running === true,
      pid: typeof body.State?.Pid === 'number' ? body.State.Pid : 0,
      networkMode: String(body.HostConfig?.NetworkMode ?? ''),
    };
  }

  /** GET `path`; with `missingOk`, a 404 resolves to undefined. */
  private get(path: string, missingOk = false): Promise<unknown> {
    const { transport, options, description } = this.target;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const request = transport.request({ ...options, path, method: 'GET', headers: { host: 'docker' } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(timer);
          this.trace?.(`docker GET ${path} at ${description}: HTTP ${response.statusCode} (${Date.now() - started} ms)`);
          const text = Buffer.concat(chunks).toString('utf8');
          if (missingOk && response.statusCode === 404) {
            resolve(undefined);
            return;
          }
          if ((response.statusCode ?? 500) >= 400) {
            reject(new DockerUnavailableError(`Docker at ${description} refused GET ${path}: HTTP ${response.statusCode} ${text.trim()}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new DockerUnavailableError(`Docker at ${description} sent a reply that is not JSON.`));
          }
        });
      });
      const timer = setTimeout(() => {
        request.destroy();
        this.trace?.(`docker GET ${path} at ${description}: no answer within ${this.timeoutMs} ms`);
        reject(new DockerUnavailableError(`Docker at ${description} did not answer within ${this.timeoutMs} ms. Is the Docker daemon running? Check DOCKER_HOST.`));
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = error.code === 'ENOENT' ? 'no such socket' : error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'EACCES' ? 'permission denied' : error.message;
        this.trace?.(`docker GET ${path} at ${description} failed after ${Date.now() - started} ms: ${why}`);
        reject(new DockerUnavailableError(`Cannot connect to the Docker daemon at ${description} (${why}). Is the Docker daemon running? Check DOCKER_HOST.`));
      });
      request.end();
    });
  }
}

function resolveTarget(env: Readonly<Record<string, string | undefined>>): Target {
  const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  if (host.startsWith('unix://')) {
    // The original's default was written `unix://var/run/docker.sock`: both forms name one path.
    const socketPath = `/${host.slice('unix://'.length).replace(/^\/+/, '')}`;
    return { description: `unix://${socketPath}`, options: { socketPath }, transport: http };
  }
  const match = /^(?:tcp|https?):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (!match) throw new DockerUnavailableError(`Invalid DOCKER_HOST '${host}': use unix:///path/to/docker.sock or tcp://host:port.`);
  const options: https.RequestOptions = { host: (match[1] as string).replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  const tls = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
  if (!tls) return { description: host, options, transport: http };
  const certPath = env.DOCKER_CERT_PATH || join(env.HOME ?? '/root', '.docker');
  try {
    options.ca = readFileSync(join(certPath, 'ca.pem'));
    options.cert = readFileSync(join(certPath, 'cert.pem'));
    options.key = readFileSync(join(certPath, 'key.pem'));
  } catch (error) {
    throw new DockerUnavailableError(`Cannot read the Docker TLS files in ${certPath} (DOCKER_CERT_PATH): ${(error as Error).message}`);
  }
  return { description: host, options, transport: https };
}
