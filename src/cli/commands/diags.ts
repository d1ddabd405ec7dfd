import { join } from 'node:path';
import type { CommandContext } from '../context';
import { CommandError, UsageError } from '../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../output';
import { printable, printableLines } from '../printable';
import { progress } from '../progress';
import { command } from '../spec';
import { check, type Finding, fixesOf } from './diags/check';
import { applyFix } from './diags/fixes';
import { readSources } from './diags/sources';
import { thisHostname } from './node/agent';
import { CONTAINER_NAME } from './node/plan';

/** Commands whose output goes into the bundle; a failing one records its error instead. */
const COMMANDS: [string, string, string[]][] = [
  ['iptables-save.txt', 'iptables-save', []],
  ['ip6tables-save.txt', 'ip6tables-save', []],
  ['ipset-list.txt', 'ipset', ['list']],
  ['ip-addr.txt', 'ip', ['addr']],
  ['ip-link.txt', 'ip', ['link']],
  ['ip-route.txt', 'ip', ['route', 'show', 'table', 'all']],
  ['ip-neigh.txt', 'ip', ['neigh']],
  ['ip-rule.txt', 'ip', ['rule']],
  ['conntrack-stats.txt', 'conntrack', ['-S']],
];

interface DiagsOptions {
  logDir: string;
  check?: boolean;
  fix?: boolean;
  output: OutputFormat;
}

/**
 * `calicoctl diags`: a tarball of logs, kernel state and etcd's /calico tree, for a bug report.
 * `diags --check` compares those sources instead (src/cli/commands/diags/check.ts).
 */
export default command<DiagsOptions>({
  path: ['diags'],
  summary: 'Collect logs, iptables/ipset state, routes and the etcd /calico tree into a tarball; or, with --check, compare them',
  usage: 'diags [--log-dir <DIR>] [--check [--fix] [-o <FORMAT>]]',
  help: `
With --check, etcd, the kernel (iptables, ipsets, routes, veths, outgoing NAT), BIRD and Docker are compared on
this host, and each inconsistency is printed on one line:
  orphaned address 10.65.0.7 in block 10.65.0.0/26 (no endpoint uses it)
  endpoint <ID> has no container
  chain cali-pi-<PROFILE> has no profile
  ipset cali4-t-<TAG> has no tag
  missing route 10.65.0.3/32 dev cali<ID>
  ipset felix-masq-ipam-pools holds nothing; the pools say 10.65.0.0/16
  veth cali<ID> has no endpoint
The exit status is 0 and "No problems found." is printed when there are none, 1 otherwise. A
source that cannot be read (BIRD not running, Docker unreachable) is skipped with a note on stderr.

--fix repairs only the safe ones: it releases orphaned addresses, deletes endpoints whose container
is gone, and removes chains, ipsets, routes and veths with Calico's prefixes that nothing owns. Each
is one etcd transaction guarded by what the check read, or one kernel command, and only what two
looks in a row found is fixed (what a starting container or the agent has half done is left to
finish). It prints what it fixed, then checks again.

Examples:
  calicoctl diags --check
  calicoctl diags --check --fix
  calicoctl diags --check -o json
`,
  options: [
    { flags: '--log-dir <DIR>', description: "the agent's log directory", default: '/var/log/calico' },
    { flags: '--check', description: 'compare etcd, the kernel, BIRD and Docker instead of collecting a tarball' },
    { flags: '--fix', description: 'with --check: repair the safe findings, then check again' },
    OUTPUT_OPTION,
  ],
  writes: false,
  async run(options, ctx) {
    if (options.fix && !options.check) throw new UsageError('--fix goes with --check: calicoctl diags --check --fix');
    if (!options.check && options.output !== 'table') throw new UsageError('-o goes with --check: calicoctl diags --check -o json');
    if (options.check) return runCheck(options, ctx);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const { system } = ctx.deps;
    const work = system.makeTempDir('calico-diags-');
    const dir = join(work, `diags-${stamp}`);
    system.mkdir(dir);
    let done = () => undefined as void;
    const step = (text: string) => {
      done();
      done = progress(ctx.io, text);
    };

    step('Collecting kernel state (iptables, ipsets, routes)');
    for (const [file, command, args] of COMMANDS) {
      let text: string;
      try {
        text = await ctx.deps.runner.run(command, args);
      } catch (error) {
        text = `${command} failed: ${(error as Error).message}\n`;
      }
      system.writeFile(join(dir, file), text);
    }

    step('Collecting the etcd /calico tree');
    try {
      const { kvs, revision } = await ctx.kv().getPrefix('/calico/');
      system.writeFile(join(dir, 'etcd-calico.json'), `${JSON.stringify({ revision, keys: Object.fromEntries(kvs.map((kv) => [kv.key, kv.value])) }, null, 2)}\n`);
    } catch (error) {
      system.writeFile(join(dir, 'etcd-calico.json'), `${JSON.stringify({ error: (error as Error).message })}\n`);
    }

    step('Collecting logs');
    system.mkdir(join(dir, 'logs'));
    try {
      for (const file of system.listDir(options.logDir)) system.copyFile(join(options.logDir, file), join(dir, 'logs', file));
    } catch (error) {
      system.writeFile(join(dir, 'logs', 'README.txt'), `Could not read ${options.logDir}: ${(error as Error).message}\n`);
    }
    try {
      system.writeFile(join(dir, 'logs', `${CONTAINER_NAME}-container.log`), await ctx.containers().logs(CONTAINER_NAME));
    } catch {
      // No Docker, or no container: the host-process log is in the log directory.
    }

    step('Writing the tarball');
    const tarball = join(work, `diags-${stamp}.tar.gz`);
    await ctx.deps.runner.run('tar', ['-C', work, '-czf', tarball, `diags-${stamp}`]);
    done();
    ctx.io.out.write(`${tarball}\n`);
  },
});

/** The documented shape of `diags --check -o json|yaml`. */
export interface CheckReport {
  readonly hostname: string;
  readonly findings: { kind: string; message: string; fixable: boolean }[];
  /** Sources that could not be read, and why. */
  readonly notes: string[];
  /** With --fix: what was repaired, and what could not be. */
  readonly fixed?: string[];
  readonly notFixed?: { message: string; reason: string }[];
}

/** How many rounds --fix makes: deleting an endpoint frees its address for the next round to release. */
const FIX_ROUNDS = 3;

async function runCheck(options: DiagsOptions, ctx: CommandContext): Promise<void> {
  const hostname = thisHostname(ctx);
  const data = isDataFormat(options.output);
  let notes: string[] = [];
  const inspect = async (): Promise<Finding[]> => {
    notes = [];
    return check(await readSources(ctx, hostname, notes));
  };
  let findings = await inspect();
  const fixed: string[] = [];
  const notFixed: { message: string; reason: string }[] = [];
  if (options.fix) {
    for (let round = 0; round < FIX_ROUNDS; round++) {
      const tried = new Set(notFixed.map((n) => n.message));
      if (!fixesOf(findings).some(({ finding }) => !tried.has(finding.message))) break;
      // Only what two looks in a row found is fixed: a container Docker is starting, or an apply
      // of the agent's under way, is inconsistent for a moment, and must be left to finish.
      const before = new Set(findings.map((f) => f.message));
      findings = await inspect();
      const fixes = fixesOf(findings).filter(({ finding }) => before.has(finding.message) && !tried.has(finding.message));
      if (fixes.length === 0) break;
      for (const { finding, fix } of fixes) {
        let reason: string | undefined;
        try {
          reason = await applyFix(ctx, fix);
        } catch (error) {
          reason = (error as Error).message.split('\n')[0] as string;
        }
        if (reason === undefined) fixed.push(finding.message);
        else notFixed.push({ message: finding.message, reason });
        // Findings name what etcd and Docker hold: made printable before they reach a terminal.
        if (!data) ctx.io.out.write(printable(reason === undefined ? `Fixed: ${finding.message}` : `Not fixed: ${finding.message}: ${reason}`) + '\n');
      }
      findings = await inspect();
    }
  }
  if (data) {
    const report: CheckReport = {
      hostname,
      findings: findings.map((f) => ({ kind: f.kind, message: f.message, fixable: f.fix !== undefined })),
      notes,
      ...(options.fix && { fixed, notFixed }),
    };
    ctx.io.out.write(renderData(options.output as 'json' | 'yaml', report));
  } else {
    ctx.io.err.write(printableLines(notes.map((note) => `Note: ${note}`)));
    ctx.io.out.write(findings.length === 0 ? 'No problems found.\n' : printableLines(findings.map((f) => f.message)));
  }
  if (findings.length > 0) throw new CommandError(`${findings.length} problem${findings.length === 1 ? '' : 's'} found.`);
}
