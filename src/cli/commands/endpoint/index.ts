import { type AnySpec, group } from '../../spec';
import show from './show';
import profileAppend from './profile-append';
import profileRemove from './profile-remove';
import profileSet from './profile-set';
import profileShow from './profile-show';

/** `calicoctl endpoint show` and `endpoint <ENDPOINT_ID> profile append|remove|set|show`. */
export const ENDPOINT: readonly AnySpec[] = [
  group({ path: ['endpoint'], summary: 'Show workload endpoints and change the profiles they use' }),
  show,
  group({ path: ['endpoint', 'profile'], summary: 'Show or change the profiles an endpoint uses (in order)', target: { completeNames: false } }),
  profileAppend,
  profileRemove,
  profileSet,
  profileShow,
];
