import type { Logger } from '../../../../src/agent/log';
import { LinkManager } from '../../../../src/agent/plugin/links';
import type { EngineInfo } from '../../../../src/agent/plugin/scope';
import type { PluginContext } from '../../../../src/agent/plugin/types';
import { CommandFailedError, type CommandRunner } from '../../../../src/host/exec';
import { MemoryKvStore } from '../../../fakes/memory-kv';

/** Records every host command; `ip link del` of an absent link fails the way iproute2 does. */
export class RecordingRunner implements CommandRunner {
  readonly calls: string[] = [];
  readonly links = new Set<string>();

  async run(file: string, args: readonly string[]): Promise<string> {
    const line = `${file} ${args.join(' ')}`;
    this.calls.push(line);
    if (file !== 'ip') return '';
    if (args[0] === 'link' && args[1] === 'add') {
      this.links.add(args[2] as string);
      this.links.add(args[6] as string);
    } else if (args[0] === 'link' && args[1] === 'del') {
      if (!this.links.delete(args[2] as string)) throw new CommandFailedError(line, 'Cannot find device', 1);
    } else if (args[0] === '-6' && args.includes('addr')) {
      return '5: calia inet6 fe80::ecee:eeff:feee:eeee/64 scope link \\       valid_lft forever';
    }
    return '';
  }
}

export interface MemoryLog extends Logger {
  readonly lines: string[];
}

export function memoryLog(): MemoryLog {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: at('DEBUG'), info: at('INFO'), warning: at('WARNING'), error: at('ERROR') };
}

/**
 * A Docker Engine whose `info()` answers what `answer` says at the time it is asked: a cluster
 * store (empty for none), an error (the engine is down), or `hang` (dockerd is still starting).
 * `release()` settles the questions left hanging with the current answer.
 */
export class FakeEngine implements EngineInfo {
  answer: string | Error | 'hang' = '';
  asked = 0;
  private hanging: (() => void)[] = [];

  info(): Promise<{ clusterStore: string }> {
    this.asked++;
    return new Promise((resolve, reject) => {
      const settle = () => (this.answer instanceof Error ? reject(this.answer) : resolve({ clusterStore: this.answer }));
      if (this.answer === 'hang') this.hanging.push(settle);
      else settle();
    });
  }

  release(): void {
    for (const settle of this.hanging.splice(0)) settle();
  }
}

/** One host's plugin context; hosts of one cluster share their `kv`. */
export function pluginContext(hostname = 'host1', engine = new FakeEngine(), kv = new MemoryKvStore()): { ctx: PluginContext; kv: MemoryKvStore; runner: RecordingRunner; log: MemoryLog; engine: FakeEngine } {
  const runner = new RecordingRunner();
  const log = memoryLog();
  return { ctx: { kv, hostname, links: new LinkManager(runner), engine, log }, kv, runner, log, engine };
}
