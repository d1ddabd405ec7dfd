import type { IO } from './io';

const FRAMES = ['-', '\\', '|', '/'];

/**
 * Progress of a long step on stderr: a spinner on a terminal, one plain line otherwise (logs and
 * CI read lines). Resolves to a function that ends the step.
 */
export function progress(io: IO, text: string): () => void {
  if (!io.stderrIsTTY) {
    io.err.write(`${text}...\n`);
    return () => undefined;
  }
  let frame = 0;
  const draw = () => io.err.write(`\r${FRAMES[frame++ % FRAMES.length]} ${text}...`);
  draw();
  const timer = setInterval(draw, 120);
  return () => {
    clearInterval(timer);
    io.err.write(`\r${' '.repeat(text.length + 5)}\r`);
  };
}
