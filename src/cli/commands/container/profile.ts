import { command, type CommandSpec } from '../../spec';
import { checkProfileNames, editEndpointProfiles, type Verb } from '../endpoint/profile-edit';
import { showProfiles } from '../endpoint/profile-show';
import { CONTAINER_ARG, onlyEndpoint, workloadOf } from './workload';

type ProfileOptions = { container: string; names: string[] };

/** `container <CONTAINER> profile append|remove|set`: the endpoint verbs, on the container's one endpoint. */
export function containerProfileCommand(verb: Verb, summary: string): CommandSpec<ProfileOptions> {
  return command<ProfileOptions>({
    path: ['container', 'profile', verb],
    usage: `container <CONTAINER> profile ${verb} [<PROFILES>...]`,
    summary,
    args: [CONTAINER_ARG, { syntax: '[PROFILES...]', key: 'names' }],
    writes: true,
    async run({ container, names }, ctx) {
      checkProfileNames(verb, names);
      const { endpoints } = await workloadOf(ctx, container);
      await editEndpointProfiles(verb, onlyEndpoint(container, endpoints), names, ctx);
    },
  });
}

export const profileShow = command<{ container: string }>({
  path: ['container', 'profile', 'show'],
  usage: 'container <CONTAINER> profile show',
  summary: "List the container's profiles",
  args: [CONTAINER_ARG],
  writes: false,
  async run({ container }, ctx) {
    const { endpoints } = await workloadOf(ctx, container);
    showProfiles(onlyEndpoint(container, endpoints), ctx);
  },
});
