import { randomUUID } from 'node:crypto';
import { escapeControls } from '../../errors';
import { IpamStore } from '../../datastore/ipam';
import { PoolStore } from '../../datastore/pools';
import { cidrNetworkText, parseCidr, parseIp } from '../../policy/cidr';
import type { Handlers, PluginContext } from './types';
import { PluginError } from './types';

export const POOL_ID_V4 = 'CalicoPoolIPv4';
export const POOL_ID_V6 = 'CalicoPoolIPv6';
const ANY = { 4: '0.0.0.0/0', 6: '::/0' } as const;
/** The handle of an address the plugin assigned for Docker's RequestAddress (Assignment.handle). */
export const REQUEST_HANDLE_PREFIX = 'libnetwork-request.';

/**
 * Docker's remote IpamDriver, as Calico answered it. Docker is told the pool is 0.0.0.0/0 with that
 * same pseudo gateway, so it never asks for a gateway address and routes everything through the
 * container's single interface; the real pools live in etcd.
 */
export function ipamDriverHandlers(ctx: PluginContext): Handlers {
  const ipam = new IpamStore(ctx.kv);
  const pools = new PoolStore(ctx.kv);

  return {
    '/IpamDriver.GetCapabilities': async () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),

    '/IpamDriver.GetDefaultAddressSpaces': async () => ({
      LocalDefaultAddressSpace: 'CalicoLocalAddressSpace',
      GlobalDefaultAddressSpace: 'CalicoGlobalAddressSpace',
    }),

    '/IpamDriver.RequestPool': async (request) => {
      if (typeof request.SubPool === 'string' && request.SubPool !== '') {
        throw new PluginError('Calico IPAM does not support sub-pools (--ip-range).');
      }
      const version = request.V6 === true ? 6 : 4;
      let poolId: string = version === 6 ? POOL_ID_V6 : POOL_ID_V4;
      if (typeof request.Pool === 'string' && request.Pool !== '') {
        // A --subnet must name one of Calico's pools exactly; addresses then come from it alone.
        const wanted = parseCidr(request.Pool);
        const match = wanted && (await pools.list(wanted.version)).find((p) => cidrNetworkText(p.cidr) === cidrNetworkText(wanted));
        if (!wanted || !match) {
          const subnet = escapeControls(request.Pool);
          throw new PluginError(`The requested subnet ${subnet} is not a Calico IP pool: add it with 'calicoctl pool add ${subnet}' first.`);
        }
        poolId = cidrNetworkText(match.cidr);
      }
      return { PoolID: poolId, Pool: ANY[version], Data: { 'com.docker.network.gateway': ANY[version] } };
    },

    '/IpamDriver.ReleasePool': async () => ({}),

    '/IpamDriver.RequestAddress': async (request) => {
      const poolId = typeof request.PoolID === 'string' ? request.PoolID : POOL_ID_V4;
      const version = poolId === POOL_ID_V6 || poolId.includes(':') ? 6 : 4;
      const options = (request.Options ?? {}) as Record<string, unknown>;
      if (options.RequestAddressType === 'com.docker.network.gateway') return { Address: ANY[version], Data: {} };
      const onlyPool = poolId === POOL_ID_V4 || poolId === POOL_ID_V6 ? undefined : poolId;
      const wanted = typeof request.Address === 'string' && request.Address !== '' ? request.Address : undefined;
      try {
        // Docker names no endpoint here, so each request gets its own handle, with when and for
        // which pool it asked: an address whose reply was lost is then one that no endpoint holds.
        const handle = `${REQUEST_HANDLE_PREFIX}${randomUUID()}`;
        const attributes = { requested_at: new Date().toISOString(), pool_id: poolId };
        const assignment = wanted ? await ipam.assignAddress(wanted, ctx.hostname, attributes, handle) : await ipam.assign(version, ctx.hostname, onlyPool, attributes, handle);
        ctx.log.info(`Assigned ${assignment.address} from pool ${assignment.pool}`);
        return { Address: `${assignment.address}/${version === 4 ? 32 : 128}`, Data: {} };
      } catch (error) {
        throw new PluginError((error as Error).message);
      }
    },

    '/IpamDriver.ReleaseAddress': async (request) => {
      const address = typeof request.Address === 'string' ? request.Address.split('/')[0] ?? '' : '';
      const parsed = parseIp(address);
      // Docker also releases the pseudo gateway when a network goes away.
      if (!parsed || parsed.text === '0.0.0.0' || parsed.text === '::') return {};
      if (await ipam.release(parsed.text)) ctx.log.info(`Released ${parsed.text}`);
      return {};
    },
  };
}
