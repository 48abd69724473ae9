/**
 * yagna's net-api: the same routes under `/net-api/v1/net…` and `/net-api/v2/vpn/net…` (status codes as yagna:
 * 200 with `null` for additions and removals).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestIdentity } from '../api/index.ts';
import { vpnError } from './errors.ts';
import type { NetworkRegistry } from './networks.ts';

type Params = Record<string, string>;

export function registerVpnRoutes(app: FastifyInstance, networks: NetworkRegistry): void {
  const owner = (request: FastifyRequest) => requestIdentity(request).identity;
  const p = (request: FastifyRequest) => request.params as Params;
  const body = (request: FastifyRequest) => {
    const b = request.body;
    if (b === null || typeof b !== 'object' || Array.isArray(b))
      throw vpnError.badRequest('expected a JSON object');
    return b as Record<string, unknown>;
  };

  app.get('/net', async (request) => networks.list(owner(request)));
  app.post('/net', async (request) => networks.create(owner(request), body(request)));
  app.get('/net/:id', async (request) => {
    const { owner: _, addresses: __, nodes: ___, ...view } = networks.get(owner(request), p(request).id!);
    return view;
  });
  app.delete('/net/:id', async (request) => {
    networks.remove(owner(request), p(request).id!);
    return null;
  });
  app.get('/net/:id/addresses', async (request) => {
    const network = networks.get(owner(request), p(request).id!);
    return network.addresses.map((ip) => ({ ip, mask: network.mask }));
  });
  app.post('/net/:id/addresses', async (request) => {
    networks.addAddress(owner(request), p(request).id!, body(request));
    return null;
  });
  app.get('/net/:id/nodes', async (request) =>
    Object.entries(networks.get(owner(request), p(request).id!).nodes).map(([ip, id]) => ({ id, ip })),
  );
  app.post('/net/:id/nodes', async (request) => {
    networks.addNode(owner(request), p(request).id!, body(request));
    return null;
  });
  app.delete('/net/:id/nodes/:nodeId', async (request) => {
    networks.removeNode(owner(request), p(request).id!, p(request).nodeId!);
    return null;
  });
  app.get('/net/:id/tcp/:ip/:port', async (request) => {
    networks.get(owner(request), p(request).id!);
    throw vpnError.tcpNotSupported('TCP into the network (golem-js TcpProxy) is not served yet', p(request));
  });
}
