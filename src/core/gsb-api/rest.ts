/** `/gsb-api/v1` routes (api.md §2.5): bind, WebSocket, unbind. The owner of a binding is the app-key that made it. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestIdentity } from '../api/index.ts';
import type { BindRequest, GsbBindings } from './bindings.ts';

export const GSB_API_PREFIX = '/gsb-api/v1';

function ownerOf(request: FastifyRequest): string {
  requestIdentity(request);
  return request.appKey!.key;
}

export function gsbApiRoutes(bindings: GsbBindings) {
  return (app: FastifyInstance): void => {
    app.post('/services', async (request, reply) => {
      const view = bindings.bind(request.body as BindRequest, ownerOf(request));
      reply
        .code(201)
        .header('location', `/${view.servicesId}`)
        .send({
          ...view,
          listenOn: view.listen.on,
          links: { messages: `${GSB_API_PREFIX}/services/${view.servicesId}` },
        });
    });

    app.delete<{ Params: { servicesId: string } }>('/services/:servicesId', async (request, reply) => {
      bindings.unbind(request.params.servicesId, ownerOf(request));
      reply.code(200).header('content-type', 'application/json').send('null');
    });

    app.get<{ Params: { servicesId: string } }>(
      '/services/:servicesId',
      {
        websocket: true,
        // Refused before the upgrade: an unknown id is a plain 404 answer, not a socket closed at once.
        preValidation: async (request) => {
          bindings.get(request.params.servicesId, ownerOf(request));
        },
      },
      (socket, request) => {
        try {
          bindings.attach(request.params.servicesId, ownerOf(request), socket);
        } catch {
          // Unbound between the check and the upgrade.
          socket.close(1008, 'not bound');
        }
      },
    );
  };
}
