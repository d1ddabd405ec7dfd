import { type CommandRunner, systemRunner } from '../../host/exec';
import type { Logger } from '../log';
import { IpsetApplier } from './ipsets';
import { IptablesApplier, NAT_TABLE } from './iptables';
import { type DatastoreUpdate, DatastoreModel } from './model';
import { type Family } from './contract';
import { RestoreSession } from './restore-session';
import { RouteApplier } from './routes';
import { DataplaneState } from './state';

/** Where the host's interfaces and sysctls are: the real ones unless a test says otherwise. */
export interface HostPaths {
  readonly interfaceExists?: (iface: string) => boolean;
  readonly sysctlRoot?: string;
  /**
   * Chain updates go to one long-lived iptables-restore per family instead of a new process per
   * change. On by default with the host's own runner; tests that fake the kernel keep one-shot runs.
   */
  readonly restoreSessions?: boolean;
}

export interface ApplyReport {
  readonly at: string;
  readonly ok: boolean;
  readonly durationMs: number;
  /** Chains rewritten or removed by this apply (0 for a pass that only looked at routes). */
  readonly chains?: number;
  readonly error?: string;
  /** Items the kernel refused, each isolated from the rest (which was applied) and retried with back-off. */
  readonly failures?: readonly { readonly item: string; readonly error: string }[];
}

/** A chain or set whose last write failed, with the kernel's error. */
interface Failure {
  readonly family: Family;
  readonly kind: 'chains' | 'sets';
  readonly name: string;
  readonly error: string;
}

/** Pause before retrying after a failure: doubling from 1 s to 1 min, so a persistent one is not retried (and logged) every second. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/**
 * Keeps the kernel in step with the datastore. Updates are batched: while one apply runs, further
 * updates accumulate and the next apply takes them all. Nothing is written before the first full
 * snapshot (so a restarted agent leaves the old rules in place until it knows better), and a
 * failed apply is retried with everything rewritten.
 */
export class Dataplane {
  readonly state: DataplaneState;
  readonly model: DatastoreModel;
  private readonly iptables: Record<Family, IptablesApplier>;
  /** The IPv4 nat table (outgoing NAT): written only when pools change, so one-shot restores do. */
  private readonly nat: IptablesApplier;
  /** False when this host's IPv4 nat table cannot be read: outgoing NAT is then off. */
  private natAvailable = true;
  private readonly ipsets: Record<Family, IpsetApplier>;
  private readonly routes: RouteApplier;
  private families: Family[] = [4, 6];
  private started = false;
  /** Whether this host has ip6tables was checked (once: a retry must not lose IPv6 to a transient error). */
  private probed = false;
  private inSync = false;
  private applying: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Some endpoint's interface did not exist yet (Docker creates it at Join): check again soon. */
  private routesRetryDue = false;
  private pendingDelay = 50;
  /** Routes still waiting for their interface, as of the last pass that looked at routes (this run). */
  private routesPending: number | undefined;
  private chainsWritten = 0;
  private changed = false;
  /** The kernel's state as read by `preload`, for the first start only. */
  private preloaded: Promise<void> | undefined;
  /** Set after a failed apply: a batch that fails then is applied item by item, to isolate the poisoned item. */
  private isolate = false;
  private failures = new Map<string, Failure>();
  /** The errors already logged, so a persistent failure is logged once, not at every retry. */
  private logged = new Set<string>();
  private failureDelay = FIRST_RETRY_MS;
  lastApply: ApplyReport | undefined;

  constructor(
    hostname: string,
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    private readonly onApplied: (report: ApplyReport) => void = () => undefined,
    private readonly refreshMs = 30_000,
    host: HostPaths = {},
  ) {
    this.state = new DataplaneState(hostname);
    this.model = new DatastoreModel(this.state);
    const sessions = host.restoreSessions ?? runner === systemRunner;
    const session = (file: string) => (sessions ? new RestoreSession(file) : undefined);
    this.iptables = {
      4: new IptablesApplier(4, runner, log, session('iptables-restore')),
      6: new IptablesApplier(6, runner, log, session('ip6tables-restore')),
    };
    this.nat = new IptablesApplier(4, runner, log, undefined, NAT_TABLE);
    this.ipsets = { 4: new IpsetApplier(4, runner), 6: new IpsetApplier(6, runner) };
    this.routes = new RouteApplier(runner, log, host.sysctlRoot, host.interfaceExists);
  }

  /**
   * Reads what the kernel already has (an earlier run's chains, sets and routes) while the
   * datastore's snapshot is still on its way, so that the first apply does not wait for both one
   * after the other. Read-only: nothing is written before the first snapshot. The restore
   * processes start now too: loading iptables and its extensions then overlaps the wait as well.
   */
  preload(): void {
    for (const family of this.families) this.iptables[family].warm();
    this.preloaded ??= this.loadExisting();
    // A failed read is retried by start(); it must not be an unhandled rejection meanwhile.
    this.preloaded.catch(() => undefined);
  }

  /** A full snapshot's changes: from now on the model is in sync and the kernel is written. */
  resync(snapshot: readonly DatastoreUpdate[]): void {
    const started = performance.now();
    this.model.reset(snapshot);
    this.log.debug(`Rendered a snapshot of ${snapshot.length} changes in ${Math.round(performance.now() - started)} ms`);
    this.inSync = true;
    this.schedule();
  }

  update(updates: readonly DatastoreUpdate[]): void {
    for (const update of updates) this.model.update(update);
    this.schedule();
  }

  /** Waits for the current apply (if any) and the one queued behind it. */
  async settle(): Promise<void> {
    while (this.applying) await this.applying;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    for (const family of [4, 6] as const) this.iptables[family].close();
  }

  private schedule(): void {
    if (this.stopped || !this.inSync || !this.model.ready) return;
    if (this.applying) {
      this.again = true;
      return;
    }
    this.applying = this.run().finally(() => {
      this.applying = undefined;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  private async run(): Promise<void> {
    const started = performance.now();
    // Tenths of a millisecond: a rule change takes a few ms, and the benchmarks compare such figures.
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      this.chainsWritten = 0;
      this.changed = false;
      this.routesPending = undefined;
      if (!this.started) await this.start();
      await this.applyDirty();
      if (this.failures.size > 0) {
        // Everything else is in the kernel; the refused items are tried again, less and less often.
        const failures = [...this.failures.values()].map((f) => ({ item: `IPv${f.family} ${f.kind === 'chains' ? 'chain' : 'set'} ${f.name}`, error: f.error }));
        this.report({ at: new Date().toISOString(), ok: false, durationMs: elapsed(), chains: this.chainsWritten, error: `${failures.length} items could not be applied`, failures });
        this.retryLater(this.nextFailureDelay());
        return;
      }
      this.isolate = false;
      this.failureDelay = FIRST_RETRY_MS;
      this.logged.clear();
      // A pass that only re-checked missing interfaces changed nothing worth reporting.
      if (this.changed) this.report({ at: new Date().toISOString(), ok: true, durationMs: elapsed(), chains: this.chainsWritten });
      // An interface usually appears within milliseconds of its endpoint (Docker's Join); one that
      // never does (a stale endpoint) is checked less and less often, up to every 5 s. A pass that
      // did not look at routes (a rule change) leaves that back-off alone: resetting it there made
      // every rule change start a burst of retries over all the stale endpoints' routes.
      if (this.routesPending === undefined) return;
      if (this.routesPending > 0) {
        this.pendingDelay = Math.min(5000, this.pendingDelay * 2);
        this.retryLater(this.pendingDelay);
      } else {
        this.pendingDelay = 50;
      }
    } catch (error) {
      const message = (error as Error).message;
      const delay = this.nextFailureDelay();
      if (!this.logged.has(message)) this.log.error(`Applying the dataplane failed: ${message}. Retrying with a full rewrite in ${delay / 1000} s, item by item if it fails again.`);
      this.logged.add(message);
      this.isolate = true;
      this.report({ at: new Date().toISOString(), ok: false, durationMs: elapsed(), error: message });
      for (const family of this.families) {
        this.iptables[family].forget();
        this.ipsets[family].forget();
      }
      this.nat.forget();
      this.routes.forget();
      this.state.markAllDirty();
      // The failed batch may have held deletions that a rewrite of the desired chains, sets and
      // routes would never repeat: re-read what the kernel has and sweep orphans, as at start-up.
      this.started = false;
      this.retryLater(delay);
    }
  }

  private nextFailureDelay(): number {
    const delay = this.failureDelay;
    this.failureDelay = Math.min(MAX_RETRY_MS, this.failureDelay * 2);
    return delay;
  }

  /**
   * Applies a batch of chains or sets. After an earlier failure (`isolate`), a batch that fails is
   * applied item by item instead, in rounds (a chain may need another chain of the batch first), so
   * that one item the kernel refuses holds back nothing else: it is recorded in `failures`, logged
   * once, and retried later. Otherwise the failure propagates, for a full rewrite.
   */
  private async applyItems(
    family: Family,
    kind: 'chains' | 'sets',
    names: readonly string[],
    apply: (names: readonly string[]) => Promise<void>,
    /** Applies what it can of an item the kernel refused whole; resolves to what is still missing, if anything. */
    salvage?: (name: string) => Promise<string | undefined>,
  ): Promise<void> {
    const id = (name: string) => `${family} ${kind} ${name}`;
    try {
      await apply(names);
      for (const name of names) this.failures.delete(id(name));
      return;
    } catch (error) {
      if (!this.isolate || names.length === 0) throw error;
    }
    let remaining = [...names];
    const salvaged: string[] = [];
    const errors = new Map<string, string>();
    for (let progress = true; remaining.length > 0 && progress; ) {
      progress = false;
      const failed: string[] = [];
      for (const name of remaining) {
        try {
          await apply([name]);
          progress = true;
          this.failures.delete(id(name));
        } catch (error) {
          const missing = salvage && (await salvage(name).catch((e: Error) => e.message));
          if (salvage && missing === undefined) {
            progress = true;
            this.failures.delete(id(name));
            continue;
          }
          errors.set(name, (missing ?? (error as Error).message).replace(/\s+/g, ' ').trim());
          if (salvage) {
            // The item exists, partly: what depends on it can go ahead, and it is not tried again in this pass.
            progress = true;
            salvaged.push(name);
          } else failed.push(name);
        }
      }
      remaining = failed;
    }
    for (const name of [...salvaged, ...remaining]) {
      const error = errors.get(name) ?? 'failed';
      this.failures.set(id(name), { family, kind, name, error });
      const line = `IPv${family}: the kernel refused ${kind === 'chains' ? 'chain' : 'set'} ${name}: ${error}. Everything else was applied; retrying it with back-off.`;
      if (!this.logged.has(line)) this.log.error(line);
      this.logged.add(line);
    }
  }

  /** First apply: learn what an earlier run left, write everything, then remove leftovers. */
  private async start(): Promise<void> {
    // A preload serves the first start only: a restart after a failed apply reads the kernel anew.
    const preloaded = this.preloaded;
    this.preloaded = undefined;
    await (preloaded?.catch(() => this.loadExisting()) ?? this.loadExisting());
    this.state.markAllDirty();
    await this.applyDirty();
    for (const family of this.families) {
      const chains = this.iptables[family].orphans(this.state.chains[family]);
      if (chains.length > 0) {
        this.log.info(`IPv${family}: removing ${chains.length} chains left by an earlier run`);
        await this.iptables[family].apply(this.state.chains[family], chains);
      }
      await this.ipsets[family].destroy(this.ipsets[family].orphans(this.state.sets(family)));
    }
    const natOrphans = this.natAvailable ? this.nat.orphans(this.state.natChains) : [];
    if (natOrphans.length > 0) await this.nat.apply(this.state.natChains, natOrphans);
    this.started = true;
    clearInterval(this.refreshTimer);
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshMs);
    this.refreshTimer.unref();
    this.log.info('Dataplane in sync with the datastore');
  }

  private async loadExisting(): Promise<void> {
    let saved6: string | undefined;
    if (!this.probed) {
      try {
        saved6 = await this.runner.run('ip6tables-save', ['-t', 'filter']);
      } catch {
        this.log.warning('IPv6 filtering is not available on this host (ip6tables-save failed): IPv6 policy is off.');
        this.families = [4];
      }
      this.probed = true;
    }
    // Independent reads: run together, so start-up waits for the slowest, not for their sum.
    await Promise.all([
      ...this.families.map((family) => this.iptables[family].loadExisting(family === 6 ? saved6 : undefined)),
      ...this.families.map((family) => this.ipsets[family].loadExisting()),
      this.routes.loadExisting(),
      this.natAvailable
        ? this.nat.loadExisting().catch((error: Error) => {
            this.log.warning(`Outgoing NAT is not available on this host (iptables-save -t nat failed: ${error.message.replace(/\s+/g, ' ').trim()}): pools' --nat-outgoing is off.`);
            this.natAvailable = false;
          })
        : undefined,
    ]);
  }

  /**
   * Sets first (chains match on them), then chains, then sets nothing uses any more, then routes;
   * sets `routesPending` when it looked at routes.
   */
  private async applyDirty(): Promise<void> {
    const dirty = this.state.takeDirty();
    this.chainsWritten += dirty.chains[4].size + dirty.chains[6].size;
    this.changed ||= this.chainsWritten + dirty.sets[4].size + dirty.sets[6].size + dirty.nat.size > 0 || dirty.routes;
    for (const family of this.families) {
      const sets = new Map<string, Set<string>>();
      const gone: string[] = [];
      for (const name of dirty.sets[family]) {
        const members = this.state.setMembers(family, name);
        if (members) sets.set(name, members);
        else gone.push(name);
      }
      const t0 = Date.now();
      await this.applyItems(
        family,
        'sets',
        [...sets.keys()],
        (names) => this.ipsets[family].update(new Map(names.map((name) => [name, sets.get(name)!]))),
        async (name) => {
          // One poisoned member must not keep the set's other members, or the chains using it, out.
          const refused = await this.ipsets[family].updateLeniently(name, sets.get(name)!);
          return refused.length === 0 ? undefined : refused.map((r) => `${r.member}: ${r.error}`).join('; ');
        },
      );
      const t1 = Date.now();
      await this.applyItems(family, 'chains', [...dirty.chains[family]], (names) => this.iptables[family].apply(this.state.chains[family], names));
      // After the sets its rule matches exist, before a set it no longer matches is destroyed.
      if (family === 4 && this.natAvailable && dirty.nat.size > 0) await this.nat.apply(this.state.natChains, dirty.nat);
      if (sets.size + dirty.chains[family].size > 0) {
        this.log.debug(`IPv${family}: ${sets.size} sets in ${t1 - t0} ms, ${dirty.chains[family].size} chains in ${Date.now() - t1} ms`);
      }
      await this.ipsets[family].destroy(gone);
      for (const name of gone) this.failures.delete(`${family} sets ${name}`);
    }
    // Routes are looked at when endpoints change, or when the retry timer says so: never on a mere
    // rule change, which must cost the same with 20 endpoints or 2,000.
    if (!dirty.routes && !this.routesRetryDue) return;
    if (!dirty.routes && this.changed) {
      // A retry that falls due during a rule change runs in a pass of its own, right after.
      this.again = true;
      return;
    }
    if (dirty.routes) this.pendingDelay = 25; // endpoints changed: look for new interfaces soon
    this.routesRetryDue = false;
    const { pending } = await this.routes.apply(this.state.routes(), this.model.poolCidrs());
    this.routesPending = pending;
  }

  /** Periodically: put our jumps back on top if another tool moved them, and retry routes. */
  private async refresh(): Promise<void> {
    try {
      for (const family of this.families) await this.iptables[family].ensureJumps();
      if (this.natAvailable) await this.nat.ensureJumps();
    } catch (error) {
      this.log.warning(`Checking the top-level jumps failed: ${(error as Error).message}`);
    }
  }

  private retryLater(ms: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.routesRetryDue = true;
      // What the kernel refused is tried again now, not at once (a failing pass must not loop).
      for (const failure of this.failures.values()) this.state.markDirty(failure.family, failure.kind, [failure.name]);
      this.schedule();
    }, ms);
  }

  private report(report: ApplyReport): void {
    this.lastApply = report;
    this.onApplied(report);
  }
}
