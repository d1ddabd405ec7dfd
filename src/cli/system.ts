import { join } from 'node:path';
import { systemRunner } from '../host/exec';
import { systemHostFacts } from '../host/facts';
import type { Deps } from './context';
import { systemHost } from './host-system';
import { processIO } from './io';

/**
 * The real clients. They are required on first use, so commands that need neither etcd nor
 * Docker (help, version, every grammar error) never load their transports.
 */
export function systemDeps(version: string): Deps {
  return {
    io: processIO(),
    env: process.env,
    version,
    openKv: (settings, trace) => {
      const { GatewayKvStore } = require('../datastore/gateway') as typeof import('../datastore/gateway');
      return new GatewayKvStore(settings, trace);
    },
    openDocker: (env, timeoutMs, trace) => {
      const { DockerEngine } = require('../docker/engine') as typeof import('../docker/engine');
      return new DockerEngine(env, timeoutMs, trace);
    },
    openContainers: (timeoutMs) => {
      const { DockerodeContainers } = require('../docker/containers') as typeof import('../docker/containers');
      return new DockerodeContainers(timeoutMs);
    },
    host: systemHostFacts,
    runner: systemRunner,
    system: systemHost(),
    // bin/calicoctl runs dist/calicoctl.js, so bin/calico-node sits one folder up and over.
    agentCommand: [process.execPath, join(__dirname, '..', 'bin', 'calico-node')],
  };
}
