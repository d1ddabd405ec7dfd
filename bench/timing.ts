import { spawnSync } from 'child_process';

export interface Command {
  readonly label: string;
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export interface Timing {
  readonly label: string;
  readonly samples: number[];
}

/**
 * Runs each command `runs` times, interleaved round-robin so that a noisy moment on the machine
 * hits every command alike, after `warmup` untimed rounds. Exits if a command fails.
 */
export function timeCommands(commands: readonly Command[], runs: number, warmup = 3): Timing[] {
  const samples = commands.map(() => [] as number[]);
  for (let round = 0; round < warmup + runs; round++) {
    commands.forEach((command, index) => {
      const started = process.hrtime.bigint();
      const result = spawnSync(command.argv[0] as string, command.argv.slice(1), { env: command.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.status !== 0) {
        process.stderr.write(`${command.label} failed (exit ${result.status}): ${result.stderr}\n`);
        process.exit(1);
      }
      if (round >= warmup) samples[index]?.push(elapsed);
    });
  }
  return commands.map((command, index) => ({ label: command.label, samples: samples[index] ?? [] }));
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export function report(timings: readonly Timing[], baseline: string): void {
  const base = timings.find((t) => t.label === baseline);
  const baseMedian = base ? percentile(base.samples, 50) : NaN;
  const width = Math.max(...timings.map((t) => t.label.length));
  console.log(`${'command'.padEnd(width)}  median ms   p90 ms   ratio to ${baseline}`);
  for (const timing of timings) {
    const median = percentile(timing.samples, 50);
    console.log(
      `${timing.label.padEnd(width)}  ${median.toFixed(1).padStart(9)}  ${percentile(timing.samples, 90).toFixed(1).padStart(7)}   ${(median / baseMedian).toFixed(2)}x`,
    );
  }
}
