/** The streams a command talks through, so that commands run the same in tests and in a terminal. */
export interface IO {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
  /** Reads all of standard input. */
  readStdin(): Promise<string>;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly stdinIsTTY: boolean;
}

export function processIO(): IO {
  return {
    out: process.stdout,
    err: process.stderr,
    readStdin: () =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        process.stdin.on('error', reject);
      }),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    stdinIsTTY: process.stdin.isTTY === true,
  };
}
