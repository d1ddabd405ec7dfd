import type { Command } from 'commander';
import { Context, type Deps } from './context';

/**
 * Holds the invocation's Context, built on first use from the root command's options, so that
 * commands declared before parsing can reach clients configured by flags parsed later.
 */
export class Session {
  private current: Context | undefined;
  private root: Command | undefined;

  constructor(readonly deps: Deps) {}

  attach(root: Command): void {
    this.root = root;
  }

  context(): Context {
    if (!this.current) {
      const opts = (this.root?.opts() ?? {}) as { debug?: boolean; timeout?: string };
      this.current = new Context(this.deps, { debug: opts.debug === true, ...(opts.timeout !== undefined && { timeout: opts.timeout }) });
    }
    return this.current;
  }

  get debug(): boolean {
    return (this.root?.opts() as { debug?: boolean } | undefined)?.debug === true;
  }

  close(): void {
    this.current?.close();
  }
}
