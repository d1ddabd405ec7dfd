import { type ChildProcess, spawn } from 'node:child_process';
import { CommandFailedError } from '../../host/exec';

/** Commits iptables-restore input; resolves once the kernel has it. */
export interface RestoreCommitter {
  commit(text: string): Promise<void>;
  /** Starts the process ahead of the first commit, so its start-up overlaps other work. */
  warm?(): void;
  close(): void;
}

/**
 * One long-lived `iptables-restore --noflush --verbose` that takes transaction after transaction on
 * its stdin. Starting iptables-restore for each change costs more than most changes: forking the
 * agent (a process of 100 MiB), loading iptables and its extensions, and reading the kernel's
 * ruleset into its cache. One that keeps running pays that once.
 *
 * iptables-restore commits each `COMMIT` as it reads it and, with --verbose, echoes comment lines
 * as it reaches them, so a comment after the COMMIT says the transaction is in the kernel. It
 * checks the ruleset's generation at each commit and re-reads it when another tool (Docker)
 * changed it meanwhile. A transaction that fails ends the process, with the message on stderr:
 * the commit is rejected with it and the next one starts a new process.
 */
export class RestoreSession implements RestoreCommitter {
  private child: ChildProcess | undefined;
  private stdout = '';
  private stderr = '';
  private sequence = 0;
  private queue: Promise<void> = Promise.resolve();
  private waiter: { child: ChildProcess; marker: string; resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(
    private readonly file: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /** Commits one transaction (`*filter … COMMIT`); transactions run one after another. */
  commit(text: string): Promise<void> {
    const result = this.queue.then(() => this.send(text));
    this.queue = result.catch(() => undefined);
    return result;
  }

  warm(): void {
    if (!this.child) this.spawn();
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    child?.stdin?.end();
  }

  private send(text: string): Promise<void> {
    const child = this.child ?? this.spawn();
    const marker = `# calico-node commit ${++this.sequence}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(child, new CommandFailedError(`${this.file} --noflush`, `no answer within ${this.timeoutMs / 1000} s`, null));
        child.kill('SIGKILL');
      }, this.timeoutMs);
      timer.unref();
      this.waiter = {
        child,
        marker,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.stderr = '';
      child.stdin?.write(`${text}${marker}\n`);
      this.check();
    });
  }

  private spawn(): ChildProcess {
    const child = spawn(this.file, ['--noflush', '--verbose'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    this.child = child;
    this.stdout = '';
    // Writes after the process ended (EPIPE) surface as its exit, below.
    child.stdin?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.check();
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.on('error', (error) => this.fail(child, new CommandFailedError(`${this.file} --noflush`, error.message, null)));
    child.on('close', (code) => this.fail(child, new CommandFailedError(`${this.file} --noflush`, this.stderr || 'exited', code)));
    // An idle session must not keep the agent alive when everything else has stopped.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  }

  private check(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const at = this.stdout.indexOf(`${waiter.marker}\n`);
    if (at < 0) return;
    this.stdout = this.stdout.slice(at + waiter.marker.length + 1);
    this.waiter = undefined;
    waiter.resolve();
  }

  private fail(child: ChildProcess, error: Error): void {
    if (this.child === child) this.child = undefined;
    const waiter = this.waiter;
    if (waiter?.child !== child) return;
    this.waiter = undefined;
    waiter.reject(error);
  }
}
