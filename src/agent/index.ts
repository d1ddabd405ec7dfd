/** The agent's entry point for bin/calico-node, bundled into one file with its dependencies. */
export { main, systemDeps } from './main';

declare const CALICOCTL_VERSION: string | undefined;

/** Set by the bundler; read from package.json when running unbundled. */
export const version: string =
  typeof CALICOCTL_VERSION === 'string' ? CALICOCTL_VERSION : (require('../../package.json') as { version: string }).version;
