import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentStatus, STATUS_FILE } from './contract';
import type { Logger } from './log';

export class StatusFile {
  private status: AgentStatus;
  private warned = false;

  constructor(
    private readonly dir: string,
    hostname: string,
    version: string,
    private readonly log: Logger,
  ) {
    this.status = { pid: process.pid, version, hostname, startedAt: new Date().toISOString() };
    this.write({});
  }

  /** Replaces the file atomically, so a reader never sees half of it. */
  write(change: Partial<AgentStatus>): void {
    this.status = { ...this.status, ...change };
    try {
      mkdirSync(this.dir, { recursive: true });
      const path = join(this.dir, STATUS_FILE);
      writeFileSync(`${path}.tmp`, `${JSON.stringify(this.status)}\n`);
      renameSync(`${path}.tmp`, path);
    } catch (error) {
      if (!this.warned) this.log.warning(`Cannot write the status file in ${this.dir}: ${(error as Error).message}`);
      this.warned = true;
    }
  }
}
