import type { DatastoreUpdate, SyncTarget } from '../datastore/syncer';
import type { LevelledLogger, LogLevel } from './log';

/** The Felix setting `calicoctl config felix loglevel` writes (src/cli/commands/config/settings.ts). */
export const LOG_SEVERITY_SCREEN = 'LogSeverityScreen';

/**
 * Felix's severities onto the agent's four levels. The agent has one level for stderr and its log
 * file alike, so `none` keeps the errors: silencing them too would leave no trace of a failure
 * anywhere, where Felix's "none" for the screen still left its log file. `critical` is the most
 * severe level the agent has, `error`.
 */
const SEVERITIES: Readonly<Record<string, LogLevel>> = { none: 'error', debug: 'debug', info: 'info', warning: 'warning', error: 'error', critical: 'error' };

const VERBOSITY: readonly LogLevel[] = ['debug', 'info', 'warning', 'error'];

/**
 * Follows LogSeverityScreen from the syncer and sets the agent's log level live. As in Felix, the
 * host's own value (/calico/v1/host/<host>/config/LogSeverityScreen) wins over the global one
 * (/calico/v1/config/LogSeverityScreen); with neither, the level is the agent's --log-level
 * (or CALICO_LOG_LEVEL) again. A value that is not a severity (stored with --force) counts as absent,
 * and is reported once.
 */
export class LogLevelFollower implements SyncTarget {
  private global: string | undefined;
  private own: string | undefined;
  private current: LogLevel;
  private readonly reported = new Set<string>();

  constructor(
    private readonly hostname: string,
    private readonly fallback: LogLevel,
    private readonly log: LevelledLogger,
  ) {
    this.current = fallback;
  }

  resync(updates: readonly DatastoreUpdate[]): void {
    this.update(updates);
  }

  update(updates: readonly DatastoreUpdate[]): void {
    let relevant = false;
    for (const update of updates) {
      if (update.kind === 'config' && update.name === LOG_SEVERITY_SCREEN) {
        this.global = update.value;
        relevant = true;
      } else if (update.kind === 'hostConfig' && update.hostname === this.hostname && update.name === LOG_SEVERITY_SCREEN) {
        this.own = update.value;
        relevant = true;
      }
    }
    if (relevant) this.apply();
  }

  /** The level in force now. */
  level(): LogLevel {
    return this.current;
  }

  private apply(): void {
    const [level, source] = this.severity(this.own, `this host's ${LOG_SEVERITY_SCREEN}`) ?? this.severity(this.global, `the global ${LOG_SEVERITY_SCREEN}`) ?? [this.fallback, '--log-level'];
    if (level === this.current) return;
    // Said at whichever of the two levels is the more verbose, so that the change shows in the log.
    const louder = VERBOSITY.indexOf(level) < VERBOSITY.indexOf(this.current);
    const message = `Log level is now ${level} (from ${source})`;
    if (!louder) this.log.info(message);
    this.log.setLevel(level);
    if (louder) this.log.info(message);
    this.current = level;
  }

  private severity(value: string | undefined, source: string): [LogLevel, string] | undefined {
    if (value === undefined) return undefined;
    const level = Object.hasOwn(SEVERITIES, value.toLowerCase()) ? SEVERITIES[value.toLowerCase()] : undefined;
    if (level !== undefined) return [level, `${source} ${value}`];
    if (!this.reported.has(value)) {
      this.reported.add(value);
      this.log.warning(`Ignoring ${source} '${value}': not one of ${Object.keys(SEVERITIES).join(', ')}`);
    }
    return undefined;
  }
}
