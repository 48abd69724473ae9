/**
 * Outbound TCP from one fixed local port, so that hole punching has something to aim at.
 *
 * A NAT maps the port once; the relay tells the node (through identify) where, and a peer behind another NAT can
 * then meet it by both dialling each other's mapping at the same moment (TCP simultaneous open, hole-punch.ts).
 * Sockets dialled from a random port each get a mapping nobody can predict. Node cannot set SO_REUSEPORT, so the
 * port cannot be the listening one; sockets bound with `localPort` get SO_REUSEADDR, which lets any number of
 * connections to distinct remotes share a port nobody listens on.
 */
import { createServer } from 'node:net';
import type { Connection, DialTransportOptions, Transport } from '@libp2p/interface';
import { serviceCapabilities, transportSymbol } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** The local port outbound TCP is dialled from, and which connections really came from it. */
export class DialPort {
  readonly port: number;
  readonly #dialled = new WeakSet<Connection>();

  constructor(port: number) {
    this.port = port;
  }

  /** A port free at this moment: the kernel picks it for a throwaway listener. */
  static async pick(): Promise<DialPort> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, resolve);
    });
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return new DialPort(port);
  }

  markDialled(connection: Connection): void {
    this.#dialled.add(connection);
  }

  /** Whether `connection` was dialled from this port (so what its remote observed is this port's mapping). */
  dialled(connection: Connection): boolean {
    return this.#dialled.has(connection);
  }
}

/**
 * The port is shared, so a dial can find it taken for that remote: a connection to the same address is still open
 * or in TIME_WAIT, or another program bound it. Such a dial goes out from a random port instead.
 */
function isPortTaken(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL';
}

/** Wraps a TCP transport so its dials leave from `dialPort`. */
export function fromDialPort<C>(
  dialPort: DialPort,
  factory: (components: C) => Transport,
): (components: C) => Transport {
  return (components) => new DialPortTransport(factory(components), dialPort);
}

class DialPortTransport implements Transport {
  readonly [transportSymbol] = true as const;
  readonly [serviceCapabilities] = ['@libp2p/transport'];
  readonly #inner: Transport;
  readonly #dialPort: DialPort;

  constructor(inner: Transport, dialPort: DialPort) {
    this.#inner = inner;
    this.#dialPort = dialPort;
  }

  get [Symbol.toStringTag](): string {
    return this.#inner[Symbol.toStringTag];
  }

  listenFilter = (addresses: Multiaddr[]) => this.#inner.listenFilter(addresses);
  dialFilter = (addresses: Multiaddr[]) => this.#inner.dialFilter(addresses);
  createListener: Transport['createListener'] = (options) => this.#inner.createListener(options);

  async dial(address: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    try {
      // The TCP transport passes unknown dial options on to `net.connect`.
      const connection = await this.#inner.dial(address, {
        ...options,
        localPort: this.#dialPort.port,
      } as DialTransportOptions);
      this.#dialPort.markDialled(connection);
      return connection;
    } catch (error) {
      if (!isPortTaken(error) || options.signal?.aborted) throw error;
      return this.#inner.dial(address, { ...options });
    }
  }
}
