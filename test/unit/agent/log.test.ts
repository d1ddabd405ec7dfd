import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/agent/log';

describe('the agent log file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'calico-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is rotated at its size cap, keeping one previous file: however much is logged, at most twice the cap is on disk', () => {
    const cap = 4096;
    writeFileSync(join(dir, 'calico-node.log'), 'x'.repeat(3000) + '\n'); // left by an earlier run: counted
    const log = createLogger('info', dir, () => undefined, cap);
    for (let i = 0; i < 2000; i++) log.error(`line ${i} ${'y'.repeat(40)}`);
    const current = join(dir, 'calico-node.log');
    const previous = `${current}.1`;
    expect(statSync(current).size).toBeLessThanOrEqual(cap);
    expect(statSync(previous).size).toBeLessThanOrEqual(cap);
    expect(existsSync(`${current}.2`)).toBe(false);
    // The newest line is in the current file, and the previous file ends where it starts.
    const lines = readFileSync(current, 'utf8').trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/ERROR line 1999 /);
    const before = readFileSync(previous, 'utf8').trimEnd().split('\n').at(-1)!;
    expect(Number(/line (\d+)/.exec(before)![1]) + 1).toBe(Number(/line (\d+)/.exec(lines[0]!)![1]));
  });
});
