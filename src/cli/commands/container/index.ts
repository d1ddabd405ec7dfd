import { type AnySpec, group } from '../../spec';
import add from './add';
import endpointShow from './endpoint-show';
import ipAdd from './ip-add';
import ipRemove from './ip-remove';
import { containerProfileCommand, profileShow } from './profile';
import remove from './remove';

/**
 * `calicoctl container add|remove` and `container <CONTAINER> ip|endpoint|profile …`: Calico
 * networking for a Docker container that was started without the plugin (calicoctl makes its
 * interface itself). Run on the container's host, as root.
 */
export const CONTAINER: readonly AnySpec[] = [
  group({ path: ['container'], summary: "Give Docker containers Calico networking without the plugin, and manage their addresses and profiles" }),
  add,
  remove,
  group({ path: ['container', 'ip'], summary: "Add or remove a Calico-networked container's addresses", target: { completeNames: false } }),
  ipAdd,
  ipRemove,
  group({ path: ['container', 'endpoint'], summary: "Show a container's endpoint", target: { completeNames: false } }),
  endpointShow,
  group({ path: ['container', 'profile'], summary: 'Show or change the profiles a container uses (in order)', target: { completeNames: false } }),
  containerProfileCommand('append', 'Add profiles at the end of the list'),
  containerProfileCommand('remove', 'Remove profiles from the list'),
  containerProfileCommand('set', 'Replace the whole list (none: remove them all)'),
  profileShow,
];
