import type { DockerNetwork } from './engine';

/**
 * Docker network names and IDs, both ways, from one listing of the engine's networks. A profile
 * made by the network driver is named by the network ID, and so are its tags; users type names.
 */
export class NetworkDirectory {
  private readonly byName = new Map<string, DockerNetwork[]>();
  private readonly byId = new Map<string, DockerNetwork>();

  constructor(networks: readonly DockerNetwork[]) {
    for (const network of networks) {
      this.byId.set(network.id, network);
      this.byName.set(network.name, [...(this.byName.get(network.name) ?? []), network]);
    }
  }

  all(): DockerNetwork[] {
    return [...this.byId.values()];
  }

  /** The ID of the network with exactly this name (not an ID prefix, as the original). */
  idForName(name: string): string | undefined {
    const matches = this.byName.get(name);
    return matches && matches.length === 1 ? matches[0]?.id : undefined;
  }

  /** The name of the network with this ID, or undefined when no network has it any more. */
  nameForId(id: string): string | undefined {
    return this.byId.get(id)?.name;
  }
}
