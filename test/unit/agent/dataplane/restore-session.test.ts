import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestoreSession } from '../../../../src/agent/dataplane/restore-session';

/**
 * A stand-in for `iptables-restore --noflush --verbose`: it logs each process start and each line
 * it reads, echoes comment lines (as --verbose does once everything before them is committed),
 * fails on a line `FAIL` the way iptables-restore does, and ignores comments when told to hang.
 */
const FAKE = `#!/bin/sh
echo "start $*" >> "$RESTORE_LOG"
while IFS= read -r line; do
  case "$line" in
    FAIL) echo "iptables-restore: line failed" >&2; exit 2 ;;
    '#'*) [ -n "$RESTORE_HANG" ] || echo "$line" ;;
    *) echo "$line" >> "$RESTORE_LOG" ;;
  esac
done
echo "end" >> "$RESTORE_LOG"
`;

let dir: string;
let fake: string;
let log: string;
const sessions: RestoreSession[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'restore-session-'));
  fake = join(dir, 'iptables-restore');
  log = join(dir, 'log');
  writeFileSync(fake, FAKE);
  chmodSync(fake, 0o755);
  writeFileSync(log, '');
  process.env.RESTORE_LOG = log;
  delete process.env.RESTORE_HANG;
});

afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.RESTORE_LOG;
  delete process.env.RESTORE_HANG;
});

const open = (timeoutMs?: number) => {
  const session = new RestoreSession(fake, timeoutMs);
  sessions.push(session);
  return session;
};
const logLines = () => readFileSync(log, 'utf8').trim().split('\n');
const eventually = async (check: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('RestoreSession', () => {
  it('commits transaction after transaction through one process, each resolved once it was read', async () => {
    const session = open();
    await session.commit('*filter\n-A a 1\nCOMMIT\n');
    expect(logLines()).toEqual(['start --noflush --verbose', '*filter', '-A a 1', 'COMMIT']);
    await Promise.all([session.commit('*filter\n-A a 2\nCOMMIT\n'), session.commit('*filter\n-A a 3\nCOMMIT\n')]);
    expect(logLines().filter((line) => line.startsWith('start'))).toHaveLength(1);
    expect(logLines().filter((line) => line.startsWith('-A'))).toEqual(['-A a 1', '-A a 2', '-A a 3']);
  });

  it('rejects a failed transaction with the message, and starts a new process for the next', async () => {
    const session = open();
    await session.commit('*filter\n-A a 1\nCOMMIT\n');
    await expect(session.commit('*filter\nFAIL\nCOMMIT\n')).rejects.toThrow(/line failed/);
    await session.commit('*filter\n-A a 2\nCOMMIT\n');
    expect(logLines().filter((line) => line.startsWith('start'))).toHaveLength(2);
    expect(logLines().filter((line) => line.startsWith('-A'))).toEqual(['-A a 1', '-A a 2']);
  });

  it('gives up on a process that never answers, and kills it', async () => {
    process.env.RESTORE_HANG = '1';
    const session = open(300);
    await expect(session.commit('*filter\n-A a 1\nCOMMIT\n')).rejects.toThrow(/no answer within/);
    delete process.env.RESTORE_HANG;
    await session.commit('*filter\n-A a 2\nCOMMIT\n');
    expect(logLines().filter((line) => line.startsWith('start'))).toHaveLength(2);
  });

  it('close() ends the process (its stdin closes)', async () => {
    const session = open();
    await session.commit('*filter\n-A a 1\nCOMMIT\n');
    session.close();
    await eventually(() => logLines().includes('end'));
    expect(logLines()).toContain('end');
  });
});
