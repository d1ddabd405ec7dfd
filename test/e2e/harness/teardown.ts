import { cleanupDataplane } from './agent';
import { cleanupDocker } from './docker';

/**
 * Runs every clean-up step even when one fails (so a broken step never leaves containers or
 * chains behind), then reports the first failure.
 */
export class Teardown {
  private readonly errors: unknown[] = [];

  async attempt(step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.errors.push(error);
    }
  }

  done(): void {
    if (this.errors.length > 0) throw this.errors[0];
  }
}

/**
 * The end of a one-host e2e file: its containers and networks (the agent still serving the
 * plugin while Docker tears them down), then the agent, its kernel objects and etcd.
 */
export async function tearDownHost(parts: {
  readonly containers: string[];
  readonly networks: string[];
  readonly agent: { stop(): Promise<void> } | undefined;
  readonly etcd: { stop(): Promise<void> } | undefined;
}): Promise<void> {
  const teardown = new Teardown();
  await teardown.attempt(() => cleanupDocker({ containers: parts.containers, networks: parts.networks }));
  await teardown.attempt(async () => parts.agent?.stop());
  await teardown.attempt(() => cleanupDataplane());
  await teardown.attempt(async () => parts.etcd?.stop());
  teardown.done();
}
