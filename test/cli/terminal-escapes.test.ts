import { printable } from '../../src/cli/printable';
import { fakeWorld } from '../fakes/cli';
import { defaultProfile, mustRun, tagsKey } from './helpers';

/** Names written to etcd by any host, holding terminal escape sequences and other control characters. */
const EVIL = 'ev\u001b[2J\u001b]0;pwned\u0007il';
const EVIL_TAG = 'tag\r\u009bhidden\u202e';

function evilWorld() {
  const world = fakeWorld();
  for (const [key, value] of Object.entries(defaultProfile(EVIL))) world.kv.seed(key, value);
  world.kv.seed(tagsKey(EVIL), [EVIL, EVIL_TAG]);
  // A plainly named profile with an evil tag (rules refuse such tags when they decode).
  for (const [key, value] of Object.entries(defaultProfile('plain'))) world.kv.seed(key, value);
  world.kv.seed(tagsKey('plain'), ['plain', EVIL_TAG]);
  world.kv.seed(`/calico/v1/host/h\u001bost/workload/libnetwork/libnetwork/endpoint/ep\u001b[31m1`, {
    state: 'active', name: 'caliep1', mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [EVIL], ipv4_nets: ['192.168.0.1/32'], ipv6_nets: [], labels: {},
  });
  return world;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/;

describe('names from etcd reach the terminal escaped', () => {
  it('printable escapes control characters and bidi overrides, and nothing else', () => {
    expect(printable(EVIL)).toBe('ev\\x1b[2J\\x1b]0;pwned\\x07il');
    expect(printable(EVIL_TAG)).toBe('tag\\x0d\\x9bhidden\\u{202e}');
    expect(printable('plain-name_1.2 ünïcode')).toBe('plain-name_1.2 ünïcode');
  });

  it.each([
    [['profile', 'show']],
    [['profile', 'show', '-q']],
    [['profile', 'show', '--detailed']],
    [['profile', 'plain', 'tag', 'show']],
    [['endpoint', 'show']],
    [['endpoint', 'show', '--detailed']],
    [['endpoint', 'show', '-q']],
    [['node', 'show']],
  ])('calicoctl %j prints no control character', async (argv) => {
    const out = await mustRun(evilWorld(), argv);
    expect(out).not.toMatch(CONTROL);
    expect(out.length).toBeGreaterThan(0);
  });

  it('a listing shows the escaped form, so the name can still be told apart', async () => {
    expect(await mustRun(evilWorld(), ['profile', 'show', '-q'])).toBe(`${printable(EVIL)}\nplain\n`);
    expect(await mustRun(evilWorld(), ['profile', 'plain', 'tag', 'show'])).toBe(`plain\n${printable(EVIL_TAG)}\n`);
  });
});
