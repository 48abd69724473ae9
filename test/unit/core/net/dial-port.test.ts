import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { DialPort } from '../../../../src/core/net/dial-port.ts';
import { createHost, type Host } from '../../../../src/core/net/host.ts';
import { eventually } from '../../../support/net.ts';

const hosts: Host[] = [];
async function host(dialPort?: DialPort): Promise<Host> {
  const started = await createHost({
    secret: randomBytes(32),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autonat: false,
    dialPort,
  });
  hosts.push(started);
  return started;
}

/** The source port `receiver` sees on its connection from `dialler` (once its side of the upgrade is done). */
async function sourcePort(receiver: Host, dialler: Host): Promise<number> {
  await eventually(() => receiver.getConnections(dialler.peerId).length > 0, 'the inbound connection');
  const address = receiver.getConnections(dialler.peerId)[0]!.remoteAddr.toString();
  return Number(/\/tcp\/(\d+)/.exec(address)?.[1]);
}

describe('outbound TCP from one dial port', () => {
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('every outbound connection leaves from the dial port, and is marked as such', async () => {
    const dialPort = await DialPort.pick();
    const dialler = await host(dialPort);
    const [b, c] = [await host(), await host()];
    const toB = await dialler.dial(b.getMultiaddrs()[0]!);
    const toC = await dialler.dial(c.getMultiaddrs()[0]!);
    // Two remotes, one local port: the receivers see the same source port.
    for (const receiver of [b, c]) assert.equal(await sourcePort(receiver, dialler), dialPort.port);
    assert.ok(dialPort.dialled(toB) && dialPort.dialled(toC));
  });

  it('falls back to a random port when the dial port is taken, and says so', async () => {
    // A listener on the port makes binding a connecting socket to it fail.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, resolve));
    const taken = new DialPort((squatter.address() as { port: number }).port);
    try {
      const dialler = await host(taken);
      const target = await host();
      const connection = await dialler.dial(target.getMultiaddrs()[0]!);
      assert.notEqual(await sourcePort(target, dialler), taken.port);
      assert.equal(taken.dialled(connection), false);
    } finally {
      squatter.close();
    }
  });
});
