import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair, privateKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import { nodeIdFromSecret } from '../../../../src/core/crypto/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { BUS_PROTOCOL, encodeFrame, nodeIdOfPeer } from '../../../../src/core/net/index.ts';
import { startNode, type TestNode } from '../../../support/net.ts';

describe('caller authentication', () => {
  it('the node id of a peer is the Ethereum address of its secp256k1 key', () => {
    const secret = new Uint8Array(randomBytes(32));
    const peer = peerIdFromPrivateKey(privateKeyFromRaw(secret));
    assert.equal(peer.type, 'secp256k1');
    assert.equal(nodeIdOfPeer(peer), nodeIdFromSecret(secret));
  });

  it('a peer without a secp256k1 key has no node id', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    assert.throws(
      () => nodeIdOfPeer(peer),
      (e) => isGolemError(e, 'NET_FOREIGN_PEER'),
    );
  });

  describe('on the wire', () => {
    let node: TestNode;
    let foreign: Libp2p;

    before(async () => {
      node = await startNode();
      foreign = await createLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
      });
    });
    after(async () => {
      await foreign?.stop();
      await node?.stop();
    });

    it('a peer that is not a Golem node is refused, even with a well-formed call', async () => {
      const replies: Uint8Array[] = [];
      try {
        const stream = await foreign.dialProtocol(node.net.host!.getMultiaddrs()[0]!, BUS_PROTOCOL);
        stream.send(encodeFrame({ t: 'call', a: '/public/net/Ping', m: null }));
        await stream.close().catch(() => {});
        for await (const chunk of stream)
          replies.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
      } catch {
        // the node resets the stream, possibly before the request is written
      }
      assert.ok(!Buffer.concat(replies).toString('utf8').includes('pong'), 'no reply to a foreign peer');
    });

    it('the caller a handler sees is the dialling key, whatever the frame says', async () => {
      const other = await startNode();
      try {
        node.bus.bind('/public/test/WhoAmI', (_m, context) => context.caller);
        await other.net.host!.dial(node.net.host!.getMultiaddrs()[0]!);
        const caller = await other.bus.call(`/net/${node.nodeId}/test/WhoAmI`, {
          caller: node.nodeId,
          from: node.nodeId,
        });
        assert.equal(caller, other.nodeId);
      } finally {
        await other.stop();
      }
    });
  });
});
