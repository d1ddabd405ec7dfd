import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { BirdSupervisor, type BirdHost } from '../../../../src/agent/bgp/supervisor';
import { memoryLog } from '../plugin/fakes';

class FakeChild extends EventEmitter {
  static next = 100;
  readonly pid = FakeChild.next++;
  readonly stdout = new EventEmitter();
  readonly stderr = new EventEmitter();
  killed: string | undefined;
  kill(signal: string): boolean {
    this.killed = signal;
    return true;
  }
}

function fakeHost() {
  const files = new Map<string, string>();
  const children: FakeChild[] = [];
  const reloads: string[] = [];
  const spawned: string[] = [];
  const host: BirdHost = {
    spawn(command, args) {
      spawned.push(`${command} ${args.join(' ')}`);
      const child = new FakeChild();
      children.push(child);
      return child as unknown as ChildProcess;
    },
    readFile: (path) => files.get(path),
    writeFile: (path, text) => void files.set(path, text),
    async reconfigure(birdc, socket) {
      reloads.push(`${birdc} -s ${socket} configure`);
      return 'Reading configuration from /etc/bird.cfg\nReconfigured\n';
    },
  };
  return { host, files, children, reloads, spawned };
}

const DAEMON = { binary: 'bird', client: 'birdc', configFile: '/etc/calico/bird.cfg', controlSocket: '/var/run/calico/bird.ctl' };

describe('the BIRD supervisor', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes the file and starts BIRD in the foreground with graceful restart', async () => {
    const { host, files, spawned } = fakeHost();
    const supervisor = new BirdSupervisor(DAEMON, host, memoryLog());
    expect(await supervisor.configure('router id 1.2.3.4;\n')).toBe('started');
    expect(files.get('/etc/calico/bird.cfg')).toBe('router id 1.2.3.4;\n');
    expect(spawned).toEqual(['bird -f -R -s /var/run/calico/bird.ctl -c /etc/calico/bird.cfg -P /var/run/calico/bird.ctl.pid']);
  });

  it('first stops a BIRD that an earlier, killed calico-node left running (its pid file names it)', async () => {
    const { host, spawned } = fakeHost();
    const asked: string[] = [];
    host.stopStale = (pidFile, binary) => (asked.push(`${pidFile} ${binary}`), 4242);
    const log = memoryLog();
    await new BirdSupervisor(DAEMON, host, log).configure('a\n');
    expect(asked).toEqual(['/var/run/calico/bird.ctl.pid bird']);
    expect(log.lines).toContain('WARNING Stopped bird (pid 4242), left running by an earlier calico-node');
    expect(spawned).toHaveLength(1);
  });

  it('reloads only when the text changed', async () => {
    const { host, reloads } = fakeHost();
    const supervisor = new BirdSupervisor(DAEMON, host, memoryLog());
    await supervisor.configure('a\n');
    expect(await supervisor.configure('a\n')).toBe('unchanged');
    expect(reloads).toEqual([]);
    expect(await supervisor.configure('b\n')).toBe('reloaded');
    expect(reloads).toEqual(['birdc -s /var/run/calico/bird.ctl configure']);
  });

  it('relays BIRD\'s output into the agent\'s log', async () => {
    const { host, children } = fakeHost();
    const log = memoryLog();
    await new BirdSupervisor(DAEMON, host, log).configure('a\n');
    children[0]!.stderr.emit('data', Buffer.from('bird: Mesh_10_0_0_2: Established\n\n'));
    expect(log.lines).toContain('INFO bird: bird: Mesh_10_0_0_2: Established');
  });

  it('restarts BIRD when it dies, backing off while it keeps dying', async () => {
    const { host, children } = fakeHost();
    const log = memoryLog();
    await new BirdSupervisor(DAEMON, host, log).configure('a\n');
    children[0]!.emit('exit', null, 'SIGKILL');
    expect(children).toHaveLength(1);
    jest.advanceTimersByTime(500);
    expect(children).toHaveLength(2);
    children[1]!.emit('exit', 1, null);
    jest.advanceTimersByTime(999);
    expect(children).toHaveLength(2);
    jest.advanceTimersByTime(1);
    expect(children).toHaveLength(3);
    expect(log.lines.filter((line) => line.startsWith('WARNING bird exited'))).toEqual([
      'WARNING bird exited (SIGKILL); restarting in 500 ms',
      'WARNING bird exited (code 1); restarting in 1000 ms',
    ]);
  });

  it('stops BIRD with SIGKILL (no Cease to the peers, so they keep its routes) and does not restart it', async () => {
    const { host, children } = fakeHost();
    const supervisor = new BirdSupervisor(DAEMON, host, memoryLog());
    await supervisor.configure('a\n');
    supervisor.stop();
    expect(children[0]!.killed).toBe('SIGKILL');
    children[0]!.emit('exit', 0, null);
    jest.advanceTimersByTime(60_000);
    expect(children).toHaveLength(1);
  });
});
