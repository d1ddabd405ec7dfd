import type { AnySpec } from '../spec';
import { BGP } from './bgp';
import checksystem from './checksystem';
import completion from './completion';
import { CONFIG } from './config';
import { CONTAINER } from './container';
import diags from './diags';
import { ENDPOINT } from './endpoint';
import { IPAM } from './ipam';
import { NODE } from './node';
import { POLICY } from './policy';
import { POOL } from './pool';
import { PROFILE } from './profile';
import status from './status';
import version from './version';

/** Every command and group, in the order --help lists them; a group comes before its commands. */
export const SPECS: readonly AnySpec[] = [...PROFILE, ...ENDPOINT, ...CONTAINER, ...POLICY, ...POOL, ...BGP, ...IPAM, ...NODE, status, checksystem, diags, version, ...CONFIG, completion];
