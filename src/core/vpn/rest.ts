/**
 * yagna's net-api: the same routes under `/net-api/v1/net…` and `/net-api/v2/vpn/net…` (status codes as yagna:
 * 200 with `null` for additions and removals).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestIdentity } from '../api/index.ts';
import { vpnError } from './errors.ts';
import type { NetworkRegistry } from './networks.ts';
import type { VpnRouter } from './router.ts';
import type { TcpClient } from './tcp.ts';

const TCP_CONNECT_TIMEOUT_MS = 10_000;

type Params = Record<string, string>;

export function registerVpnRoutes(app: FastifyInstance, networks: NetworkRegistry, router: VpnRouter): void {
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
    router.announceNodes(owner(request), p(request).id!);
    return null;
  });
  app.delete('/net/:id/nodes/:nodeId', async (request) => {
    networks.removeNode(owner(request), p(request).id!, p(request).nodeId!);
    router.announceNodes(owner(request), p(request).id!, [p(request).nodeId!.toLowerCase()]);
    return null;
  });
  // golem-js's TcpProxy / getWebsocketUri: binary frames carry the TCP stream both ways. The connection is made
  // before the upgrade, so a refused or silent port is a plain 504 answer, as in yagna.
  const connections = new WeakMap<FastifyRequest, TcpClient>();
  app.get(
    '/net/:id/tcp/:ip/:port',
    {
      websocket: true,
      preValidation: async (request) => {
        const { id, ip, port } = p(request);
        connections.set(
          request,
          await router.openTcp(owner(request), id!, ip!, Number(port), TCP_CONNECT_TIMEOUT_MS),
        );
      },
    },
    (socket, request) => {
      const connection = connections.get(request)!;
      connection.setHandlers({
        onData: (data) => socket.send(data, { binary: true }),
        onEnd: () => socket.close(1000),
        onClose: (error) => {
          if (error) socket.close(1011, error.message.slice(0, 100));
          else socket.close(1000);
        },
      });
      socket.on('message', (data: Buffer) => connection.write(Buffer.from(data)));
      socket.on('close', () => connection.end());
      socket.on('error', () => connection.destroy());
    },
  );
}
