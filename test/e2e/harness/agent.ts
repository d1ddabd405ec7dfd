import { type ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { ROOT } from './cli';
import type { EtcdServer } from './etcd';

export const CALICO_NODE = path.join(ROOT, 'bin/calico-node');

export interface AgentProcess {
  readonly child: ChildProcess;
  /** Everything the agent logged so far. */
  log(): string;
  /** SIGTERM, then wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/**
 * Starts bin/calico-node against the test's etcd and waits for its "started successfully" line.
 * Only one agent can serve /run/docker/plugins/calico.sock, so e2e files run one at a time.
 */
export async function startAgent(etcd: Pick<EtcdServer, 'env'>, extraArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<AgentProcess> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('ETCD_')) env[key] = value;
  const child = spawn(CALICO_NODE, ['--log-level', 'debug', ...extraArgs], {
    env: { ...env, ...etcd.env, NO_DEFAULT_POOLS: 'true', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = Date.now();
  while (!output.includes('Calico node started successfully')) {
    if (child.exitCode !== null || Date.now() - started > 30_000) {
      child.kill('SIGKILL');
      throw new Error(`calico-node did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { child, log: () => output, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** Removes every chain, ipset and route an agent created (bin/calico-node --cleanup). */
export function cleanupDataplane(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(CALICO_NODE, ['--cleanup', '--log-level', 'warning'], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`calico-node --cleanup exited ${code}`))));
  });
}
