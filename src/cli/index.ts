/** The CLI's entry point for bin/calicoctl, bundled into one file so that start-up reads one module. */
export { main } from './main';
export { systemDeps } from './system';

declare const CALICOCTL_VERSION: string | undefined;

/** Set by the bundler; read from package.json when running unbundled. */
export const version: string =
  typeof CALICOCTL_VERSION === 'string' ? CALICOCTL_VERSION : (require('../../package.json') as { version: string }).version;
