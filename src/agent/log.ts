import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** The log file's size cap: past it, the file becomes `calico-node.log.1` (one previous file kept) and a new one starts. */
export const LOG_FILE_MAX_BYTES = 10 << 20;

/**
 * Timestamped lines on stderr, and in `<logDir>/calico-node.log` when a log directory is given,
 * rotated at `maxBytes` so that a persistent problem cannot fill the disk.
 */
export function createLogger(
  level: LogLevel,
  logDir?: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
  maxBytes = LOG_FILE_MAX_BYTES,
): Logger {
  let file: string | undefined;
  let size = 0;
  if (logDir !== undefined) {
    mkdirSync(logDir, { recursive: true });
    file = join(logDir, 'calico-node.log');
    try {
      size = statSync(file).size;
    } catch {
      // No log yet.
    }
  }
  const log = (at: LogLevel) => (message: string) => {
    if (ORDER[at] < ORDER[level]) return;
    const line = `${new Date().toISOString()} ${at.toUpperCase()} ${message}\n`;
    write(line);
    if (file !== undefined) {
      try {
        if (size > 0 && size + Buffer.byteLength(line) > maxBytes) {
          renameSync(file, `${file}.1`);
          size = 0;
        }
        appendFileSync(file, line);
        size += Buffer.byteLength(line);
      } catch {
        // A full or read-only log disk must not stop the agent; stderr still has the line.
      }
    }
  };
  return { debug: log('debug'), info: log('info'), warning: log('warning'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warning() {}, error() {} };
