import { GolemError } from '../errors/index.ts';
import { BusErrorCode } from './errors.ts';
import type { Bus, RemoteTransport } from './types.ts';

/**
 * Joins several in-process buses into one "network" without sockets: a stand-in for the net module inside
 * unit tests of a single module (for example market negotiation between two nodes). Messages are copied with
 * structuredClone, as a wire would, so a handler never shares objects with its caller.
 */
export class MemoryNetwork {
  #nodes = new Map<string, Bus>();
  #subscriptions = new Map<string, Set<string>>();

  join(bus: Bus): void {
    const nodeId = bus.nodeId;
    if (nodeId === undefined)
      throw new GolemError(BusErrorCode.NoIdentity, 'a bus joins a network after setNodeIds');
    this.#nodes.set(nodeId, bus);
    bus.setRemote(this.#transportFor(nodeId));
  }

  leave(nodeId: string): void {
    const bus = this.#nodes.get(nodeId);
    this.#nodes.delete(nodeId);
    this.#subscriptions.delete(nodeId);
    bus?.setRemote(undefined);
  }

  #target(nodeId: string): Bus {
    const bus = this.#nodes.get(nodeId);
    if (bus === undefined) {
      throw new GolemError(BusErrorCode.Unreachable, `node ${nodeId} is not reachable`, {
        details: { nodeId },
      });
    }
    return bus;
  }

  #transportFor(self: string): RemoteTransport {
    return {
      call: async (target, address, message, options) => {
        const reply = await this.#target(target).dispatchRemote(
          options.as,
          address,
          structuredClone(message),
          options.signal,
        );
        return structuredClone(reply);
      },
      stream: (target, address, message, options) =>
        this.#target(target).dispatchRemoteStream(
          options.as,
          address,
          structuredClone(message),
          options.signal,
        ),
      publish: async (topic, message, from) => {
        for (const [nodeId, bus] of this.#nodes) {
          if (nodeId === self || !this.#subscriptions.get(nodeId)?.has(topic)) continue;
          bus.deliverBroadcast(topic, structuredClone(message), from);
        }
      },
      topicsChanged: (topics) => {
        this.#subscriptions.set(self, new Set(topics));
      },
    };
  }
}
