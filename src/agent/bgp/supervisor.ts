import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BIRD_FAMILIES } from '../contract';
import type { Logger } from '../log';

/** What the supervisor needs from the host, so that tests can run it without BIRD. */
export interface BirdHost {
  spawn(command: string, args: readonly string[]): ChildProcess;
  readFile(path: string): string | undefined;
  /** Replaces the file atomically: BIRD never reads half of it. */
  writeFile(path: string, text: string): void;
  /** Runs `birdc -s <socket> configure`; resolves to its output. */
  reconfigure(birdc: string, socket: string): Promise<string>;
  /**
   * Kills the daemon a pid file names if it still runs as `binary`: a BIRD that outlived a killed
   * calico-node. Returns its pid, or undefined when there was none.
   */
  stopStale?(pidFile: string, binary: string): number | undefined;
}

export interface BirdDaemon {
  /** `bird` or `bird6`. */
  readonly binary: string;
  /** `birdc` or `birdc6`. */
  readonly client: string;
  readonly configFile: string;
  readonly controlSocket: string;
}

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A daemon that stayed up this long is healthy again: the next crash restarts it at once. */
const HEALTHY_AFTER_MS = 10_000;

/**
 * Keeps one BIRD daemon running with the configuration the agent renders. It writes the file only
 * when the text changed and then asks BIRD to reload it, so an unchanged model costs nothing. If
 * BIRD exits, it is restarted with exponential backoff; its output goes to calico-node's log.
 * Stopping calico-node stops BIRD so that routes stay everywhere while the node restarts (see stop()).
 */
export class BirdSupervisor {
  private child: ChildProcess | undefined;
  private text: string | undefined;
  private stopped = false;
  private backoff = MIN_BACKOFF_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    private readonly daemon: BirdDaemon,
    private readonly host: BirdHost,
    private readonly log: Logger,
  ) {}

  /** Installs a configuration: starts BIRD on the first one, reloads it when the text changed. */
  async configure(text: string): Promise<'unchanged' | 'started' | 'reloaded'> {
    if (text === this.text && this.child) return 'unchanged';
    const onDisk = this.host.readFile(this.daemon.configFile);
    if (onDisk !== text) this.host.writeFile(this.daemon.configFile, text);
    this.text = text;
    if (!this.child) {
      this.start();
      return 'started';
    }
    if (onDisk === text) return 'unchanged';
    const output = await this.host.reconfigure(this.daemon.client, this.daemon.controlSocket);
    if (/error|failed/i.test(output) && !/Reconfigured|Reconfiguration in progress/i.test(output)) {
      this.log.error(`${this.daemon.binary} refused the new configuration: ${output.trim()}`);
    } else {
      this.log.info(`${this.daemon.binary} reloaded its configuration`);
    }
    return 'reloaded';
  }

  /**
   * Stops BIRD without a goodbye. A clean shutdown (SIGTERM) would send each peer a Cease, and
   * they would withdraw this host's routes at once; killed, BIRD just drops its sessions, so the
   * peers keep the routes for the graceful-restart time while calico-node comes back, and this
   * host's kernel keeps BIRD's routes too (`persist`). Established flows carry on.
   */
  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): void {
    if (this.stopped) return;
    // A new configuration may arrive while a restart is pending: start once, not twice.
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const { binary, configFile, controlSocket } = this.daemon;
    // A calico-node killed with SIGKILL leaves its BIRD running, unsupervised and with the old
    // configuration; a new one then refuses to start ("I found another BIRD running") forever
    // (found by test/e2e/faults.test.ts). That one goes: the kernel keeps its routes (`persist`),
    // and the one started here takes over with graceful restart, as after stop().
    // Only before this supervisor's first BIRD: after that, the pid file names our own child,
    // which has exited when we start again.
    const pidFile = `${controlSocket}.pid`;
    const stale = this.startedAt === 0 ? this.host.stopStale?.(pidFile, binary) : undefined;
    if (stale !== undefined) this.log.warning(`Stopped ${binary} (pid ${stale}), left running by an earlier calico-node`);
    // -f: stay in the foreground, so this process notices when BIRD exits. -R: graceful restart,
    // so peers keep this host's routes while BIRD comes back. -P: the pid file that lets the next
    // calico-node find this BIRD if this one dies without stopping it.
    const child = this.host.spawn(binary, ['-f', '-R', '-s', controlSocket, '-c', configFile, '-P', pidFile]);
    this.child = child;
    this.startedAt = Date.now();
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.log.info(`${binary}: ${line.trim()}`);
    };
    child.stdout?.on('data', relay);
    child.stderr?.on('data', relay);
    child.on('error', (error) => this.log.error(`Cannot run ${binary}: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      if (Date.now() - this.startedAt > HEALTHY_AFTER_MS) this.backoff = MIN_BACKOFF_MS;
      this.log.warning(`${binary} exited (${signal ?? `code ${code}`}); restarting in ${this.backoff} ms`);
      this.restartTimer = setTimeout(() => this.start(), this.backoff);
      this.restartTimer.unref();
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    });
    this.log.info(`Started ${binary} (pid ${child.pid ?? '?'}) with ${configFile}`);
  }
}

/** The real host: processes, files written by rename, and birdc. */
export const systemBirdHost: BirdHost = {
  spawn: (command, args) => nodeSpawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  writeFile(path, text) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  },
  stopStale(pidFile, binary) {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1 || readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== binary) return undefined;
    } catch {
      return undefined;
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return undefined;
    }
    // It is gone within moments; until its socket is free, the new BIRD exits and is restarted.
    const until = Date.now() + 2000;
    const running = () => {
      try {
        return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'); // a zombie holds nothing
      } catch {
        return false;
      }
    };
    while (Date.now() < until && running()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    return pid;
  },
  reconfigure(birdc, socket) {
    return new Promise((resolve) => {
      const child = nodeSpawn(birdc, ['-s', socket, 'configure'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.on('error', (error) => resolve(`error: ${error.message}`));
      child.on('close', () => resolve(output));
    });
  },
};

export const BIRD_DAEMONS = (stateDir: string, configDir: string): Record<4 | 6, BirdDaemon> => {
  const daemon = (family: 4 | 6): BirdDaemon => {
    const { binary, client, config, socket } = BIRD_FAMILIES[family];
    return { binary, client, configFile: `${configDir}/${config}`, controlSocket: `${stateDir}/${socket}` };
  };
  return { 4: daemon(4), 6: daemon(6) };
};
