import type { HostFacts } from '../host/facts';
import type { Environment } from './context';
import { CommandError } from './errors';
import { parseDocument } from './output';

export const DEFAULT_CONFIG = '/etc/calico/calicoctl.cfg';

/** Config file keys (as calicoctl v3 spells them) and the environment variables they stand for. */
export const CONFIG_KEYS: Readonly<Record<string, string>> = {
  etcdEndpoints: 'ETCD_ENDPOINTS',
  etcdAuthority: 'ETCD_AUTHORITY',
  etcdScheme: 'ETCD_SCHEME',
  etcdCACertFile: 'ETCD_CA_CERT_FILE',
  etcdCertFile: 'ETCD_CERT_FILE',
  etcdKeyFile: 'ETCD_KEY_FILE',
  etcdUsername: 'ETCD_USERNAME',
  etcdPassword: 'ETCD_PASSWORD',
  etcdTimeout: 'ETCD_TIMEOUT',
  dockerHost: 'DOCKER_HOST',
  hostname: 'HOSTNAME',
  noDefaultPools: 'NO_DEFAULT_POOLS',
};

const ENV_NAMES = new Set(Object.values(CONFIG_KEYS));

/**
 * The settings of a config file (YAML or JSON), merged under the environment: a variable that is
 * set wins over the file. The file is either calicoctl v3's shape (`apiVersion`, `kind:
 * CalicoAPIConfig`, `spec: {…}`) or a flat map; keys are the camelCase names above or the
 * variables' own names. An unknown key is an error that names it. A missing default file is
 * fine; a missing file given with --config is not.
 */
export function environmentWithConfig(env: Environment, host: HostFacts, path: string | undefined): Environment {
  const file = path ?? DEFAULT_CONFIG;
  const text = host.readFile(file);
  if (text === undefined) {
    if (path !== undefined) throw new CommandError(`Cannot read the config file ${file} (--config).`);
    return env;
  }
  let document: unknown;
  try {
    document = text.trim() === '' ? {} : parseDocument(text, `The contents of ${file}`);
  } catch (error) {
    throw new CommandError((error as Error).message);
  }
  const settings = configSettings(document, file);
  const merged: Record<string, string | undefined> = { ...settings };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[name] = value;
  return merged;
}

function configSettings(document: unknown, file: string): Record<string, string> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new CommandError(`${file} must hold a map of settings (YAML or JSON).`);
  }
  let map = document as Record<string, unknown>;
  if ('apiVersion' in map || 'kind' in map || 'spec' in map) {
    if (map.kind !== undefined && map.kind !== 'CalicoAPIConfig') throw new CommandError(`${file}: kind must be CalicoAPIConfig, not '${String(map.kind)}'.`);
    for (const key of Object.keys(map)) {
      if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(key)) throw new CommandError(`${file}: unknown key '${key}'.`);
    }
    map = (map.spec ?? {}) as Record<string, unknown>;
    if (typeof map !== 'object' || map === null) throw new CommandError(`${file}: spec must be a map of settings.`);
  }
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) {
    const name = CONFIG_KEYS[key] ?? (ENV_NAMES.has(key) ? key : undefined);
    if (name === undefined) {
      throw new CommandError(`${file}: unknown key '${key}'. Known keys: ${Object.keys(CONFIG_KEYS).join(', ')}.`);
    }
    if (value === null || typeof value === 'object') throw new CommandError(`${file}: '${key}' must be a string, number or boolean.`);
    settings[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return settings;
}
