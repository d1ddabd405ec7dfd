import { ConflictError, CorruptDataError, DatastoreConfigError, DatastoreUnavailableError } from '../../../src/datastore/errors';
import { IpamError } from '../../../src/datastore/ipam';
import * as keys from '../../../src/datastore/keys';
import { PoolError } from '../../../src/datastore/pools';
import { parseCidr } from '../../../src/policy/cidr';

describe('keys.ts: every builder has a parser that gives back what it built', () => {
  it('profiles, endpoints, hosts, config', () => {
    expect(keys.parseProfileKey(keys.profileRules('p1'))).toEqual({ id: 'p1', leaf: 'rules' });
    const endpoint = { hostname: 'h', orchestrator: 'libnetwork', workload: 'w', endpoint: 'e' };
    expect(keys.parseEndpointKey(keys.endpointKey(endpoint))).toEqual(endpoint);
    expect(keys.parseHostKey(keys.hostBirdIp('h'))).toEqual({ hostname: 'h', birdIp: true });
    expect(keys.parseHostKey(keys.hostConfigKey('h', 'DefaultEndpointToHostAction'))).toEqual({ hostname: 'h', config: 'DefaultEndpointToHostAction' });
    expect(keys.parseHostKey(keys.endpointKey(endpoint))).toBeUndefined();
    expect(keys.hostOfKey(keys.endpointKey(endpoint))).toBe('h');
    expect(keys.parseGlobalConfigKey(keys.globalConfigKey('InterfacePrefix'))).toBe('InterfacePrefix');
    expect(keys.parseGlobalConfigKey(`${keys.CONFIG}a/b`)).toBeUndefined();
  });

  it('pools, addresses, blocks and affinities', () => {
    expect(keys.parsePoolKey(keys.poolKey(parseCidr('10.0.0.0/16')!))).toEqual({ version: 4, name: '10.0.0.0-16' });
    expect(keys.parsePoolKey(keys.poolKey(parseCidr('fd00::/64')!))).toEqual({ version: 6, name: 'fd00::-64' });
    expect(keys.parseAffinityKey(keys.affinityKey('h', 4, '10.0.0.64/26'))).toEqual({ host: 'h', version: 4, cidr: '10.0.0.64/26' });
    expect(keys.blockKey(6, 'fd00::40/122').startsWith(keys.blockPrefix(6))).toBe(true);
  });

  it('BGP', () => {
    expect(keys.parseBgpKey(keys.BGP_AS_KEY)).toEqual({ kind: 'defaultAs' });
    expect(keys.parseBgpKey(keys.BGP_MESH_KEY)).toEqual({ kind: 'nodeMesh' });
    expect(keys.parseBgpKey(keys.BGP_LOGLEVEL_KEY)).toEqual({ kind: 'logLevel', hostname: undefined });
    expect(keys.parseBgpKey(`${keys.globalPeerPrefix(4)}10.0.0.1`)).toEqual({ kind: 'peer', hostname: undefined, ip: '10.0.0.1' });
    expect(keys.parseBgpKey(`${keys.hostPeerPrefix('h', 6)}fd00::1`)).toEqual({ kind: 'peer', hostname: 'h', ip: 'fd00::1' });
    expect(keys.parseBgpKey(keys.bgpHostIp('h', 6))).toEqual({ kind: 'hostIp', hostname: 'h', version: 6 });
    expect(keys.parseBgpKey(keys.hostAsKey('h'))).toEqual({ kind: 'hostAs', hostname: 'h' });
    expect(keys.parseBgpKey(keys.hostLogLevelKey('h'))).toEqual({ kind: 'logLevel', hostname: 'h' });
    expect(keys.parseBgpKey(`${keys.bgpHostPrefix('h')}other`)).toBeUndefined();
  });
});

it('every datastore error carries a code', () => {
  expect(
    [new DatastoreConfigError('m'), new DatastoreUnavailableError('m'), new CorruptDataError('/k', 'bad'), new ConflictError('/k', 3), new IpamError('m'), new PoolError('m')].map((e) => e.code),
  ).toEqual(['config', 'unavailable', 'corrupt', 'conflict', 'ipam', 'pool']);
});
