import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The repository: the folder with package.json above this file (in test/ or compiled into dist-tools/). */
export const ROOT = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${__dirname}`);
})();
export const CALICOCTL = path.join(ROOT, 'bin/calicoctl');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built bin/calicoctl as a user would, with the given environment on top of a clean one
 * (no ETCD_* or DOCKER_* from the test runner's own environment leaks in).
 */
export function calicoctl(args: readonly string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return run(CALICOCTL, args, env, stdin);
}

/** The test runner's environment without its ETCD_* and DOCKER_* settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCD_') && !key.startsWith('DOCKER_')) base[key] = value;
  }
  return { ...base, ...extra };
}

/** Runs a program with a clean environment plus `env`, collecting its output. */
export function run(file: string, args: readonly string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A program that exits without reading its input (bash -c 'exit 1') makes this write fail
    // with EPIPE; its exit code is the result.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}
