import { CalicoError } from '../errors';

/**
 * Runs host tools (ip, iptables-restore, ipset, sysctl writes go through fs). Arguments are passed
 * as a list and never through a shell, so no name read from etcd can inject a command.
 */
export interface CommandRunner {
  run(file: string, args: readonly string[], input?: string): Promise<string>;
}

export class CommandFailedError extends CalicoError {
  readonly code = 'host-command';
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no message'}`);
    this.name = 'CommandFailedError';
  }
}

export const systemRunner: CommandRunner = {
  run(file, args, input) {
    return new Promise((resolve, reject) => {
      // Required here: the CLI bundles this module, and most commands never run a program.
      const { execFile } = require('node:child_process') as typeof import('node:child_process');
      const child = execFile(file, [...args], { maxBuffer: 256 << 20, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
        if (error) {
          const code = typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null;
          reject(new CommandFailedError(`${file} ${args.join(' ')}`.slice(0, 200), stderr || error.message, code));
        } else {
          resolve(stdout);
        }
      });
      // A tool that exits before reading all its input (iptables-restore stops at the first bad
      // line) closes the pipe: the write then fails with EPIPE, and the exit status above is what
      // reports the failure. Unhandled, that stream error would end the agent.
      child.stdin?.on('error', () => undefined);
      if (input !== undefined) child.stdin?.end(input);
    });
  },
};
