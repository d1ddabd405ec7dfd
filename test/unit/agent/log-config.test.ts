import type { DatastoreUpdate } from '../../../src/datastore/syncer';
import { createLogger } from '../../../src/agent/log';
import { LogLevelFollower } from '../../../src/agent/log-config';

/** LogSeverityScreen from the syncer → the running agent's log level. */

function follower(fallback: 'info' | 'warning' = 'info') {
  const lines: string[] = [];
  const log = createLogger(fallback, undefined, (line) => lines.push(line.replace(/^\S+ /, '').trimEnd()));
  const target = new LogLevelFollower('h1', fallback, log);
  const probe = () => {
    lines.length = 0;
    log.debug('d');
    log.info('i');
    log.warning('w');
    log.error('e');
    const logged = lines.join(',');
    lines.length = 0;
    return logged;
  };
  return { target, lines, probe };
}

const global = (value: string | undefined): DatastoreUpdate => ({ kind: 'config', name: 'LogSeverityScreen', value });
const own = (hostname: string, value: string | undefined): DatastoreUpdate => ({ kind: 'hostConfig', hostname, name: 'LogSeverityScreen', value });

describe('LogLevelFollower', () => {
  it('follows the global value, and returns to --log-level when it is removed', () => {
    const { target, probe, lines } = follower();
    target.resync([global('debug')]);
    expect(lines).toEqual(['INFO Log level is now debug (from the global LogSeverityScreen debug)']);
    expect(probe()).toBe('DEBUG d,INFO i,WARNING w,ERROR e');
    target.update([global(undefined)]);
    expect(lines).toEqual(['INFO Log level is now info (from --log-level)']);
    expect(probe()).toBe('INFO i,WARNING w,ERROR e');
  });

  it.each([
    ['none', 'ERROR e'],
    ['critical', 'ERROR e'],
    ['error', 'ERROR e'],
    ['warning', 'WARNING w,ERROR e'],
    ['info', 'INFO i,WARNING w,ERROR e'],
    ['DEBUG', 'DEBUG d,INFO i,WARNING w,ERROR e'],
  ])("Felix's %s (any case)", (value, logged) => {
    const { target, probe } = follower();
    target.resync([global(value)]);
    expect(probe()).toBe(logged);
  });

  it("this host's own value wins over the global one; other hosts' do not count", () => {
    const { target, probe } = follower();
    target.resync([global('debug'), own('h1', 'error'), own('h2', 'info')]);
    expect(probe()).toBe('ERROR e');
    target.update([global('info')]);
    expect(probe()).toBe('ERROR e');
    target.update([own('h1', undefined)]);
    expect(probe()).toBe('INFO i,WARNING w,ERROR e');
  });

  it('a value that is not a severity counts as absent, and is reported once', () => {
    const { target, lines, probe } = follower('warning');
    target.resync([global('loud')]);
    target.update([global('loud'), own('h1', 'constructor')]);
    expect(lines).toEqual([
      "WARNING Ignoring the global LogSeverityScreen 'loud': not one of none, debug, info, warning, error, critical",
      "WARNING Ignoring this host's LogSeverityScreen 'constructor': not one of none, debug, info, warning, error, critical",
    ]);
    expect(probe()).toBe('WARNING w,ERROR e');
  });

  it('other settings and an unchanged level say nothing', () => {
    const { target, lines } = follower();
    target.resync([{ kind: 'config', name: 'InterfacePrefix', value: 'cali' }, global('info')]);
    expect(lines).toEqual([]);
    expect(target.level()).toBe('info');
  });
});
