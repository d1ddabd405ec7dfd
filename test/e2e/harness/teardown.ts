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
