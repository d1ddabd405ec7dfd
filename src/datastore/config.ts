import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { DatastoreConfigError } from './errors';

/** How to reach etcd, validated. `source` is the variable the endpoints came from, for error hints. */
export interface EtcdSettings {
  readonly endpoints: readonly string[];
  readonly source: 'ETCD_ENDPOINTS' | 'ETCD_AUTHORITY';
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly password?: string;
  /** Bound on each etcd request, connection included. */
  readonly timeoutMs: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

/** The variables read, by their environment names (a config file uses the same names). */
export type EtcdEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * Validates etcd settings up front, the way the original calicoctl v0.23 did, so that a
 * typo is reported by name before any connection is tried. ETCD_ENDPOINTS overrides
 * ETCD_AUTHORITY and ETCD_SCHEME.
 */
export function etcdSettings(env: EtcdEnvironment, timeoutOverride?: string): EtcdSettings {
  const endpointsVar = nonEmpty(env.ETCD_ENDPOINTS);
  let endpoints: string[];
  let scheme: string;
  if (endpointsVar !== undefined) {
    endpoints = endpointsVar.split(',').map((entry) => entry.trim());
    const schemes = new Set<string>();
    for (const endpoint of endpoints) {
      const parsed = parseEndpoint(endpoint);
      if (!parsed) {
        throw new DatastoreConfigError(
          `Invalid ETCD_ENDPOINTS. It must take the form 'ENDPOINT[,ENDPOINT][,...]' where ENDPOINT:='http[s]://ADDRESS:PORT'. Value provided is '${endpointsVar}'`,
        );
      }
      schemes.add(parsed.scheme);
    }
    if (schemes.size > 1) {
      throw new DatastoreConfigError(`Inconsistent protocols in ETCD_ENDPOINTS.  Value provided is '${endpointsVar}'`);
    }
    scheme = [...schemes][0] as string;
    endpoints = endpoints.map((endpoint) => endpoint.replace(/\/+$/, ''));
  } else {
    const authority = nonEmpty(env.ETCD_AUTHORITY) ?? '127.0.0.1:2379';
    scheme = nonEmpty(env.ETCD_SCHEME) ?? 'http';
    if (scheme !== 'http' && scheme !== 'https') {
      throw new DatastoreConfigError(`Invalid ETCD_SCHEME. Value must be one of: "", "http", "https". Value provided: ${scheme}`);
    }
    if (!parseEndpoint(`${scheme}://${authority}`)) {
      throw new DatastoreConfigError(
        `Invalid ETCD_AUTHORITY. Address must take the form <address>:<port>. Value provided is '${authority}'`,
      );
    }
    endpoints = [`${scheme}://${authority}`];
  }

  const caFile = nonEmpty(env.ETCD_CA_CERT_FILE);
  const certFile = nonEmpty(env.ETCD_CERT_FILE);
  const keyFile = nonEmpty(env.ETCD_KEY_FILE);
  if (scheme === 'https' && (caFile === undefined || !readableFile(caFile))) {
    throw new DatastoreConfigError(
      `Invalid ETCD_CA_CERT_FILE. Certificate Authority cert is required and must be a readable file path. Value provided: ${caFile ?? ''}`,
    );
  }
  if (scheme === 'http' && (caFile ?? certFile ?? keyFile) !== undefined) {
    // A certificate configured for plain HTTP would be ignored: refuse rather than talk without TLS.
    const named = caFile !== undefined ? 'ETCD_CA_CERT_FILE' : certFile !== undefined ? 'ETCD_CERT_FILE' : 'ETCD_KEY_FILE';
    const source = endpointsVar !== undefined ? 'ETCD_ENDPOINTS' : 'ETCD_SCHEME';
    throw new DatastoreConfigError(`${named} is set, but ${source} says plain http://: use https:// endpoints to talk TLS, or unset ${named}.`);
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new DatastoreConfigError(
      `Invalid ETCD_KEY_FILE, ETCD_CERT_FILE combination. Both must be set, or neither. Values provided: ETCD_KEY_FILE=${keyFile ?? ''}, ETCD_CERT_FILE=${certFile ?? ''}`,
    );
  }
  for (const [name, file] of [['ETCD_CERT_FILE', certFile], ['ETCD_KEY_FILE', keyFile]] as const) {
    if (file !== undefined && !readableFile(file)) {
      throw new DatastoreConfigError(`Cannot read ${name}: '${file}' is not a readable file.`);
    }
  }
  const username = nonEmpty(env.ETCD_USERNAME);
  const password = env.ETCD_PASSWORD ?? passwordFromFile(nonEmpty(env.ETCD_PASSWORD_FILE));
  if (username === undefined && nonEmpty(password) !== undefined) {
    throw new DatastoreConfigError('ETCD_PASSWORD is set but ETCD_USERNAME is not: set both, or neither.');
  }

  const timeoutText = timeoutOverride ?? nonEmpty(env.ETCD_TIMEOUT);
  const timeoutMs = timeoutText === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(timeoutText, timeoutOverride !== undefined ? '--timeout' : 'ETCD_TIMEOUT');

  return {
    endpoints,
    source: endpointsVar !== undefined ? 'ETCD_ENDPOINTS' : 'ETCD_AUTHORITY',
    ...(caFile !== undefined && { caFile }),
    ...(certFile !== undefined && { certFile }),
    ...(keyFile !== undefined && { keyFile }),
    ...(username !== undefined && { username, password: password ?? '' }),
    timeoutMs,
  };
}

/** `5`, `2.5`, `5s` and `500ms` are all accepted; a bare number is seconds. */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const value = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : 1000) : NaN;
  if (!(value > 0) || value > 3_600_000) {
    throw new DatastoreConfigError(`Invalid ${name} '${text}': give a duration such as 5, 2.5s or 500ms (at most 1 hour).`);
  }
  return Math.round(value);
}

function parseEndpoint(endpoint: string): { scheme: string } | undefined {
  const match = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(endpoint);
  if (!match) return undefined;
  const host = (match[2] as string).replace(/^\[|\]$/g, '');
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[2]?.startsWith('[') && (require('node:net') as typeof import('node:net')).isIP(host) !== 6) return undefined;
  return { scheme: match[1] as string };
}

function readableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The password `calicoctl node` left for the agent in a root-only file (src/agent/contract.ts, PASSWORD_FILE). */
function passwordFromFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new DatastoreConfigError(`Cannot read ETCD_PASSWORD_FILE: '${file}' is not a readable file.`);
  }
}
