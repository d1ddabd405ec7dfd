import type { Environment } from './context';

/** A process the CLI started. */
export interface SpawnedProcess {
  readonly pid: number | undefined;
  onExit(listener: () => void): void;
  /** Lets calicoctl exit while the process runs on. */
  unref(): void;
}

/**
 * The files and processes of this host that `node`, `node stop` and `diags` touch, beyond etcd,
 * Docker and the read-only HostFacts: injected, so those commands run in-process in tests.
 */
export interface HostSystem {
  mkdir(path: string): void;
  writeFile(path: string, text: string): void;
  /** Replaces a file with one only root can read, atomically: it never exists with a wider mode. */
  writeSecret(path: string, text: string): void;
  /** Removes a file; one that is not there is fine. */
  removeFile(path: string): void;
  /** A file's size in bytes; 0 when it does not exist. */
  fileSize(path: string): number;
  /** A file's text from a byte offset; '' when it cannot be read. */
  readFrom(path: string, offset: number): string;
  listDir(path: string): string[];
  copyFile(from: string, to: string): void;
  /** A new empty directory under the system's temporary directory. */
  makeTempDir(prefix: string): string;
  /** Starts a program with stdout and stderr appended to `logFile`. */
  spawn(file: string, args: readonly string[], options: { env: Environment; detached: boolean; logFile: string }): SpawnedProcess;
  isAlive(pid: number): boolean;
  kill(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void;
}

/** The real host. Node's fs and child_process are required on first use (start-up reads neither). */
export function systemHost(): HostSystem {
  const fs = () => require('node:fs') as typeof import('node:fs');
  return {
    mkdir: (path) => void fs().mkdirSync(path, { recursive: true }),
    writeFile: (path, text) => fs().writeFileSync(path, text),
    writeSecret: (path, text) => {
      const temp = `${path}.${process.pid}.tmp`;
      fs().rmSync(temp, { force: true });
      // Created with mode 0600 (flag wx: never an existing file someone else prepared), then renamed over.
      fs().writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
      fs().renameSync(temp, path);
    },
    removeFile: (path) => fs().rmSync(path, { force: true }),
    fileSize: (path) => {
      try {
        return fs().statSync(path).size;
      } catch {
        return 0;
      }
    },
    readFrom: (path, offset) => {
      try {
        return fs().readFileSync(path).subarray(offset).toString('utf8');
      } catch {
        return '';
      }
    },
    listDir: (path) => fs().readdirSync(path),
    copyFile: (from, to) => fs().copyFileSync(from, to),
    makeTempDir: (prefix) => {
      const { join } = require('node:path') as typeof import('node:path');
      const { tmpdir } = require('node:os') as typeof import('node:os');
      return fs().mkdtempSync(join(tmpdir(), prefix));
    },
    spawn: (file, args, options) => {
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      const log = fs().openSync(options.logFile, 'a');
      try {
        const child = spawn(file, [...args], { env: { ...options.env }, detached: options.detached, stdio: ['ignore', log, log] });
        return { pid: child.pid, onExit: (listener) => void child.once('exit', listener), unref: () => child.unref() };
      } finally {
        fs().closeSync(log);
      }
    },
    isAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    },
    kill: (pid, signal) => void process.kill(pid, signal),
  };
}
