import { CommandFailedError, systemRunner } from '../../../src/host/exec';

describe('systemRunner', () => {
  // 8 MiB is far more than a pipe holds, so the writes are still going on when the tool exits.
  const big = 'x'.repeat(8 << 20);

  it('a tool that exits without reading its input is not an error of ours: its exit status decides', async () => {
    await expect(systemRunner.run('true', [], big)).resolves.toBe('');
  });

  it('a tool that fails before reading its input rejects with its exit code, and nothing crashes', async () => {
    const failure = systemRunner.run('sh', ['-c', 'echo "bad line 1" >&2; exit 2'], big);
    await expect(failure).rejects.toBeInstanceOf(CommandFailedError);
    await expect(failure).rejects.toMatchObject({ exitCode: 2, stderr: 'bad line 1\n' });
  });

  it('passes its input to the tool and returns what it printed', async () => {
    await expect(systemRunner.run('cat', [], 'rules\n')).resolves.toBe('rules\n');
  });

  it('a missing tool rejects with a one-line message', async () => {
    await expect(systemRunner.run('/nonexistent/tool', ['a'], 'input')).rejects.toThrow(/^\/nonexistent\/tool a failed: /);
  });
});
