import type { Bus, Unbind } from '../bus/index.ts';
import { type GetNetwork, VpnLocalAddress } from '../model/vpn.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { NetworkRegistry } from './networks.ts';
import { registerVpnRoutes } from './rest.ts';
import { VpnRouter } from './router.ts';

/** The VPN module: networks over REST (both of yagna's prefixes) and the owner's view of them on the local bus. */
export class VpnService implements Service {
  readonly name = 'vpn';
  readonly networks = new NetworkRegistry();
  readonly #bus: Bus;
  readonly #router: VpnRouter;
  #unbinds: Unbind[] = [];

  constructor(components: Pick<CoreComponents, 'bus' | 'logger'> & Partial<Pick<CoreComponents, 'rest'>>) {
    this.#bus = components.bus;
    this.#router = new VpnRouter({
      bus: components.bus,
      networks: this.networks,
      logger: components.logger.child('vpn'),
    });
    for (const prefix of ['/net-api/v1', '/net-api/v2/vpn']) {
      components.rest?.register(prefix, (app) => registerVpnRoutes(app, this.networks, this.#router));
    }
  }

  async start(): Promise<void> {
    this.#unbinds.push(
      this.#bus.bind(VpnLocalAddress.GetNetwork, (message: GetNetwork) =>
        structuredClone(this.networks.get(message.owner, message.networkId)),
      ),
    );
    this.#router.start();
  }

  /** After nodes of a network changed outside REST: tell its other nodes (REST additions and removals do it). */
  announceNodes(owner: string, networkId: string, removed: string[] = []): void {
    this.#router.announceNodes(owner, networkId, removed);
  }

  async stop(): Promise<void> {
    this.#router.stop();
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }
}
