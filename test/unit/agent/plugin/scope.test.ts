import { networkDriverHandlers } from '../../../../src/agent/plugin/network-driver';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileScopeMemory, hostEngine, type Scope, type ScopeMemory, ScopeOracle } from '../../../../src/agent/plugin/scope';
import { DockerUnavailableError } from '../../../../src/docker/engine';
import { FakeEngine, memoryLog, pluginContext } from './fakes';

const STORE = 'etcd://10.200.0.254:2379';

function oracle(answer: FakeEngine['answer'], waitMs = 50, memory?: ScopeMemory) {
  const engine = new FakeEngine();
  engine.answer = answer;
  const log = memoryLog();
  return { engine, log, oracle: new ScopeOracle(engine, log, waitMs, memory) };
}

function memoryOf(scope?: Scope): ScopeMemory & { scope: Scope | undefined } {
  return {
    scope,
    recall() {
      return this.scope;
    },
    remember(value) {
      this.scope = value;
    },
  };
}

describe('the network scope the plugin answers', () => {
  it('is global when the engine has a cluster store, asked once and kept', async () => {
    const { engine, log, oracle: scope } = oracle(STORE);
    expect(await scope.scope()).toBe('global');
    engine.answer = new Error('gone');
    expect(await scope.scope()).toBe('global');
    expect(engine.asked).toBe(1);
    expect(log.lines).toEqual([`INFO Answering scope global: the Docker engine has the cluster store ${STORE}, so networks exist on every host`]);
  });

  it('is local when the engine has no cluster store, and that answer is kept too', async () => {
    const { engine, log, oracle: scope } = oracle('');
    expect(await scope.scope()).toBe('local');
    engine.answer = STORE;
    expect(await scope.scope()).toBe('local');
    expect(engine.asked).toBe(1);
    expect(log.lines).toEqual(['INFO Answering scope local: the Docker engine has no cluster store']);
  });

  it('is local while the engine is down, and global once it answers', async () => {
    const { engine, log, oracle: scope } = oracle(new DockerUnavailableError('Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket).'));
    expect(await scope.scope()).toBe('local');
    expect(await scope.scope()).toBe('local');
    expect(log.lines).toEqual([
      'WARNING Answering scope local for now: cannot ask the Docker engine whether it has a cluster store: Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket).',
      'WARNING Answering scope local for now: cannot ask the Docker engine whether it has a cluster store: Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket).',
    ]);
    engine.answer = STORE;
    expect(await scope.scope()).toBe('global');
    expect(engine.asked).toBe(3);
  });

  it('does not wait for an engine that is still starting: local within the bound, one question in flight, its late answer kept', async () => {
    const { engine, log, oracle: scope } = oracle('hang', 30);
    const started = Date.now();
    expect(await Promise.all([scope.scope(), scope.scope(), scope.scope()])).toEqual(['local', 'local', 'local']);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await scope.scope()).toBe('local');
    expect(engine.asked).toBe(1);
    expect(log.lines).toContain('WARNING Answering scope local for now: the Docker engine did not say within 30 ms whether it has a cluster store');
    // dockerd is up: the question it held answers, and that answer is the scope from then on.
    engine.answer = STORE;
    engine.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await scope.scope()).toBe('global');
    expect(engine.asked).toBe(1);
  });

  it('asks as soon as it is primed, so the answer is there when Docker first asks', async () => {
    const { engine, oracle: scope } = oracle(STORE);
    scope.prime();
    expect(engine.asked).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    scope.prime();
    expect(await scope.scope()).toBe('global');
    expect(engine.asked).toBe(1);
  });

  it('primed while the engine is down, says so and asks again when Docker asks', async () => {
    const { engine, log, oracle: scope } = oracle(new Error('no such socket'));
    scope.prime();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines).toEqual(["INFO Cannot ask the Docker engine yet whether it has a cluster store (no such socket); asking again when Docker asks for the plugin's capabilities"]);
    engine.answer = STORE;
    expect(await scope.scope()).toBe('global');
    expect(engine.asked).toBe(2);
  });

  it('while the engine cannot answer, answers what it said last time, and remembers each definite answer', async () => {
    const memory = memoryOf('global');
    const { engine, log, oracle: scope } = oracle('hang', 20, memory);
    expect(await scope.scope()).toBe('global');
    expect(log.lines).toEqual(['WARNING Answering scope global for now, as the engine said last time: the Docker engine did not say within 20 ms whether it has a cluster store']);
    engine.answer = '';
    engine.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(memory.scope).toBe('local');
    expect(await scope.scope()).toBe('local');
  });

  it('warns when Docker was told a scope that the engine\'s late answer contradicts', async () => {
    const { engine, log, oracle: scope } = oracle('hang', 20);
    expect(await scope.scope()).toBe('local');
    engine.answer = STORE;
    engine.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines.at(-1)).toBe('WARNING Docker was told scope local before its engine answered, and keeps that until dockerd restarts: networks created on this host meanwhile are local');
  });

  it('keeps the last answer in a file of the state directory, and reads nothing odd from it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scope-'));
    try {
      const memory = fileScopeMemory(join(dir, 'calico'));
      expect(memory.recall()).toBeUndefined();
      memory.remember('global');
      expect(readFileSync(join(dir, 'calico', 'docker-scope'), 'utf8')).toBe('global\n');
      expect(fileScopeMemory(join(dir, 'calico')).recall()).toBe('global');
      writeFileSync(join(dir, 'calico', 'docker-scope'), 'swarm');
      expect(memory.recall()).toBeUndefined();
      // A state directory that cannot be written only loses the hint.
      writeFileSync(join(dir, 'file'), '');
      expect(() => fileScopeMemory(join(dir, 'file', 'calico')).remember('local')).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a DOCKER_HOST that does not parse, reports it when asked and answers local', async () => {
    const engine = hostEngine({ DOCKER_HOST: 'ftp://nowhere' });
    await expect(engine.info()).rejects.toBeInstanceOf(DockerUnavailableError);
    const log = memoryLog();
    expect(await new ScopeOracle(engine, log, 50).scope()).toBe('local');
    expect(log.lines.join('\n')).toContain("Invalid DOCKER_HOST 'ftp://nowhere'");
  });

  it('is what GetCapabilities answers, for the data and the connectivity scope', async () => {
    const global = pluginContext();
    global.engine.answer = STORE;
    expect(await networkDriverHandlers(global.ctx)['/NetworkDriver.GetCapabilities']!({})).toEqual({ Scope: 'global', ConnectivityScope: 'global' });
    expect(global.engine.asked).toBe(1);
    const local = pluginContext();
    expect(await networkDriverHandlers(local.ctx)['/NetworkDriver.GetCapabilities']!({})).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
  });
});
