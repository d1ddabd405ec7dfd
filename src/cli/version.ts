import { Command } from 'commander';
import type { Session } from './session';

export function makeVersionCommand(session: Session): Command {
  return new Command('version').description('Print the calicoctl version').action(() => {
    session.deps.io.out.write(`${session.deps.version}\n`);
  });
}
