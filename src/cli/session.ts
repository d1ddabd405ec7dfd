import type { Command } from 'commander';
import { colorEnabled } from './color';
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

  /** Set before the action runs when the command was given --dry-run. */
  dryRun = false;

  context(): Context {
    if (!this.current) {
      const opts = this.rootOptions();
      this.current = new Context(this.deps, {
        debug: this.debug,
        ...(opts.timeout !== undefined && { timeout: opts.timeout }),
        ...(opts.config !== undefined && { config: opts.config }),
        color: this.color,
        trace: this.debug || opts.logLevel === 'debug',
        dryRun: this.dryRun,
      });
    }
    return this.current;
  }

  get debug(): boolean {
    return this.rootOptions().debug === true;
  }

  /** Colour on stdout: a terminal, and neither NO_COLOR, TERM=dumb nor --no-color. */
  get color(): boolean {
    return colorEnabled(this.deps.io.stdoutIsTTY, this.deps.env, this.rootOptions().color === false);
  }

  private rootOptions(): { debug?: boolean; timeout?: string; config?: string; color?: boolean; logLevel?: string } {
    return (this.root?.opts() ?? {}) as { debug?: boolean; timeout?: string; config?: string; color?: boolean; logLevel?: string };
  }

  close(): void {
    this.current?.close();
  }
}
