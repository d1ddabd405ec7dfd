import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import type { ReliabilityRow } from '../test/e2e/harness/faults';

/**
 * bench/reliability: runs the fault and load scenarios, which are e2e tests (test/e2e/faults.test.ts:
 * kill -9 of BIRD, of calico-node while it adds and while it removes 2,000 endpoints, of dockerd in
 * the middle of `docker run`, and a restart with 10,000 profiles; load-writers, lab-churn,
 * etcd-cluster), at bench scale, and prints the rows they record
 * (test/e2e/harness/faults.ts recordRow) as one table. The tests assert that nothing is lost; this
 * adds a file's failure as a row of its own, so the table shows every scenario that ran.
 */

const ROOT = resolve(__dirname, '../..');
/** Files that use the machine's Docker or root-namespace iptables run under the shared lock. */
const SCENARIOS: { file: string; locked: boolean }[] = [
  { file: 'test/e2e/faults.test.ts', locked: false },
  { file: 'test/e2e/lab-churn.test.ts', locked: false },
  { file: 'test/e2e/load-writers.test.ts', locked: true },
  { file: 'test/e2e/etcd-cluster.test.ts', locked: true },
];

function main(): number {
  const dir = mkdtempSync(join(tmpdir(), 'calico-reliability-'));
  const rowsFile = join(dir, 'rows.jsonl');
  const failed: ReliabilityRow[] = [];
  try {
    for (const { file, locked } of SCENARIOS) {
      const jest = ['npx', 'jest', '--ci', '--selectProjects', 'e2e', '--runInBand', file];
      const [command, ...args] = locked ? ['flock', '/tmp/calico-host.lock', ...jest] : jest;
      const started = Date.now();
      process.stderr.write(`reliability: ${file}\n`);
      const run = spawnSync(command as string, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RELIABILITY_ROWS: rowsFile } });
      if (run.status !== 0) failed.push({ scenario: `${file} FAILED`, done: `jest exited ${run.status ?? run.signal}`, lost: 1, findings: null, seconds: Math.round((Date.now() - started) / 1000) });
    }
    const rows: ReliabilityRow[] = existsSync(rowsFile)
      ? readFileSync(rowsFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as ReliabilityRow)
      : [];
    const all = [...rows, ...failed];
    const cell = (text: string) => text.replace(/\|/g, '\\|');
    const lines = [
      '| scenario | what was done | lost | findings after | time (s) |',
      '|---|---|---|---|---|',
      ...all.map((row) => `| ${cell(row.scenario)} | ${cell(row.done)} | ${row.lost} | ${row.findings ?? 'n/a'} | ${row.seconds} |`),
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
    const lost = all.reduce((sum, row) => sum + row.lost, 0);
    process.stdout.write(lost === 0 ? '\nNothing lost.\n' : `\n${lost} lost or failed.\n`);
    return lost === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = main();
