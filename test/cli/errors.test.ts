import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { DockerUnavailableError } from '../../src/docker/engine';
import { CalicoError } from '../../src/errors';
import { AlreadyExistsError, ConflictError, CorruptDataError, DatastoreConfigError, DatastoreUnavailableError, NotFoundError } from '../../src/datastore/errors';
import { IpamError } from '../../src/datastore/ipam';
import { PoolError } from '../../src/datastore/pools';
import { CommandFailedError } from '../../src/host/exec';
import { CommandError, describeError, exitCodeFor, UsageError } from '../../src/cli/errors';
import { RuleDecodeError } from '../../src/policy/codec';
import { RulePositionError } from '../../src/policy/edits';
import { RuleSyntaxError, RuleValidationError } from '../../src/policy/parser';

const TYPED: [CalicoError, number][] = [
  [new UsageError('u'), 2],
  [new RuleSyntaxError(['inbound'], 1, ['allow', 'deny']), 2],
  [new CommandError('c'), 1],
  [new RuleValidationError(['x'], 0, 'v'), 1],
  [new RulePositionError('p'), 1],
  [new RuleDecodeError('inbound_rules[0]', 'bad'), 1],
  [new DatastoreConfigError('d'), 1],
  [new DatastoreUnavailableError('d'), 1],
  [new CorruptDataError('/calico/k', 'bad'), 1],
  [new ConflictError('/calico/k', 3), 1],
  [new NotFoundError('profile', 'web', 'Profile web not found.'), 1],
  [new AlreadyExistsError('address', '10.0.0.1', '10.0.0.1 is already assigned.'), 1],
  [new PoolError('p'), 1],
  [new IpamError('i'), 1],
  [new DockerUnavailableError('d'), 1],
  [new CommandFailedError('tar -czf x', 'No space left on device', 2), 1],
];

describe('one error vocabulary', () => {
  it.each(TYPED.map(([error, code]) => [error.name, error, code] as const))('%s has a code, a message written for users, and its exit code', (_name, error, exit) => {
    expect(typeof error.code).toBe('string');
    expect(describeError(error, false)).toBe(`${error.message}\n`);
    expect(exitCodeFor(error)).toBe(exit);
  });

  it('codes are distinct', () => {
    const codes = TYPED.map(([error]) => error.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('anything else is an internal error, exit 1', () => {
    expect(describeError(new TypeError('boom'), false)).toBe('Internal error: boom (run again with --debug for details)\n');
    expect(exitCodeFor(new TypeError('boom'))).toBe(1);
  });

  it('every error class under src/ is a CalicoError (but the gateway\'s private one)', () => {
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const root = join(__dirname, '../../src');
    const plain = files(root)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/class (\w+) extends Error\b/g)].map((m) => `${f.slice(root.length + 1)}: ${m[1]}`));
    // The gateway's endpoint error never leaves it: it becomes a DatastoreUnavailableError.
    expect(plain.sort()).toEqual(['datastore/gateway.ts: EndpointError', 'policy/errors.ts: CalicoError']);
  });
});
