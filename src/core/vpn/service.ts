import type { Bus, Unbind } from '../bus/index.ts';
import { type GetNetwork, VpnLocalAddress } from '../model/vpn.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { NetworkRegistry } from './networks.ts';
import { registerVpnRoutes } from './rest.ts';

/** The VPN module: networks over REST (both of yagna's prefixes) and the owner's view of them on the local bus. */
export class VpnService implements Service {
  readonly name = 'vpn';
  readonly networks = new NetworkRegistry();
  readonly #bus: Bus;
  #unbinds: Unbind[] = [];

  constructor(components: Pick<CoreComponents, 'bus' | 'rest'>) {
    this.#bus = components.bus;
    for (const prefix of ['/net-api/v1', '/net-api/v2/vpn']) {
      components.rest?.register(prefix, (app) => registerVpnRoutes(app, this.networks));
    }
  }

  async start(): Promise<void> {
    this.#unbinds.push(
      this.#bus.bind(VpnLocalAddress.GetNetwork, (message: GetNetwork) =>
        structuredClone(this.networks.get(message.owner, message.networkId)),
      ),
    );
  }

  async stop(): Promise<void> {
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }
}
