/**
 * One network's RPC endpoints as a viem client: the configured URLs in order, each tried when the one before
 * fails (Golem's endpoint list). Calls fail fast; the transaction manager retries with backoff.
 */
import {
  type Address,
  type Chain,
  createPublicClient,
  fallback,
  type Hex,
  http,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
} from 'viem';
import type { NetworkConfig } from './networks.ts';

export interface ChainClient {
  readonly network: NetworkConfig;
  readonly chain: Chain;
  readonly client: PublicClient;
  /** The endpoints with their fallbacks, for wallet clients (the dev faucet). */
  readonly transport: Transport;
  receipt(hash: Hex): Promise<TransactionReceipt | null>;
  /** Broadcasts signed bytes; a node that already has them (or has mined them) is not an error. */
  sendRaw(raw: Hex): Promise<void>;
  nonce(address: Address, blockTag: 'latest' | 'pending'): Promise<number>;
}

/** What nodes answer when they already know a transaction, or its nonce is past: the tx or its rival is on its way. */
const HARMLESS_SEND_ERROR =
  /already known|known transaction|already imported|nonce too low|replacement transaction underpriced|transaction already exists|same hash/i;

export function chainOf(network: NetworkConfig): Chain {
  return {
    id: network.chainId,
    name: network.name,
    nativeCurrency: { name: network.gasCurrency, symbol: network.gasCurrency, decimals: 18 },
    rpcUrls: { default: { http: network.rpcUrls } },
  };
}

export function createChainClient(network: NetworkConfig, timeoutMs = 10_000): ChainClient {
  const chain = chainOf(network);
  const transports = network.rpcUrls.map((url) => http(url, { retryCount: 0, timeout: timeoutMs }));
  const transport: Transport = transports.length === 1 ? (transports[0] as Transport) : fallback(transports);
  const client = createPublicClient({
    chain,
    transport,
    pollingInterval: 250,
    // Block numbers are read to count confirmations: a cached one would lag behind a receipt.
    cacheTime: 0,
  }) as PublicClient;
  return {
    network,
    chain,
    client,
    transport,
    async receipt(hash) {
      const result = await client.request({ method: 'eth_getTransactionReceipt', params: [hash] });
      if (result === null || result === undefined) return null;
      return client.getTransactionReceipt({ hash });
    },
    async sendRaw(raw) {
      try {
        await client.request({ method: 'eth_sendRawTransaction', params: [raw] });
      } catch (error) {
        const text = `${(error as Error).message} ${String((error as { details?: string }).details ?? '')}`;
        if (!HARMLESS_SEND_ERROR.test(text)) throw error;
      }
    },
    async nonce(address, blockTag) {
      return client.getTransactionCount({ address, blockTag });
    },
  };
}
