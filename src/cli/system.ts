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
      // etcd 3.4's JSON gateway refuses every request that carries a client certificate while
      // auth is on ("CommonName of client sending a request against gateway will be ignored"), so
      // certificate and password together go over gRPC, at the cost of loading its client.
      if (settings.certFile !== undefined && settings.username !== undefined) {
        const { Etcd3KvStore } = require('../datastore/etcd3-store') as typeof import('../datastore/etcd3-store');
        return new Etcd3KvStore(settings);
      }
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
