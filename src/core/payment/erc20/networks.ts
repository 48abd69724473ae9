/**
 * The networks the erc20 driver knows, by name, and Golem's environment overrides
 * (`<NETWORK>_GETH_ADDR`, `<NET>_<SYMBOL>_CONTRACT_ADDRESS`, `<NET>_MULTI_PAYMENT_CONTRACT_ADDRESS`,
 * `<NET>_LOCK_PAYMENT_CONTRACT_ADDRESS`, `<NET>_PRIORITY_FEE`, `<NET>_MAX_FEE_PER_GAS`,
 * `ERC20_<NET>_REQUIRED_CONFIRMATIONS`, `ERC20_SENDOUT_INTERVAL_SECS`). Addresses of public networks are those of
 * yagna's configuration; the `dev` network's are where `deployDevContracts` puts them on a fresh anvil.
 */
import { type Address, getAddress, getContractAddress, isAddress, parseGwei } from 'viem';
import { Erc20ErrorCode, erc20Error } from './errors.ts';

/** Anvil's first default account (mnemonic "test test … junk"): the dev network's deployer and faucet. */
export const ANVIL_DEV_PRIVATE_KEY =
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;
export const ANVIL_DEV_ADDRESS = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' as const;

/** CREATE addresses of the dev deployer's first three transactions: token, multi-transfer, lock. */
export const DEV_CONTRACTS = {
  token: getContractAddress({ from: ANVIL_DEV_ADDRESS, nonce: 0n }),
  multiTransfer: getContractAddress({ from: ANVIL_DEV_ADDRESS, nonce: 1n }),
  lockPayment: getContractAddress({ from: ANVIL_DEV_ADDRESS, nonce: 2n }),
} as const;

export interface NetworkConfig {
  name: string;
  chainId: number;
  /** Lowercase token symbol as in the platform name (`glm`, `tglm`). */
  token: string;
  /** The symbol in env names (`GLM`, `TGLM`). */
  tokenSymbol: string;
  rpcUrls: string[];
  tokenAddress: Address;
  multiTransferAddress?: Address;
  lockPaymentAddress?: Address;
  testnet: boolean;
  requiredConfirmations: number;
  /** EIP-1559 tip and cap, wei. */
  priorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  /** Native currency name, for messages. */
  gasCurrency: string;
  /** What a user does to fund an account here (real networks). */
  fundingHint: string;
}

interface NetworkDefaults {
  chainId: number;
  token: string;
  rpcUrls: string[];
  tokenAddress: string;
  multiTransferAddress?: string;
  lockPaymentAddress?: string;
  testnet: boolean;
  requiredConfirmations: number;
  priorityFeeGwei: string;
  maxFeeGwei: string;
  gasCurrency: string;
  fundingHint: string;
}

const testnetFees = { priorityFeeGwei: '0.000001', maxFeeGwei: '20' };

const defaults: Record<string, NetworkDefaults> = {
  dev: {
    chainId: 31337,
    token: 'tglm',
    rpcUrls: ['http://127.0.0.1:8545'],
    tokenAddress: DEV_CONTRACTS.token,
    multiTransferAddress: DEV_CONTRACTS.multiTransfer,
    lockPaymentAddress: DEV_CONTRACTS.lockPayment,
    testnet: true,
    requiredConfirmations: 1,
    priorityFeeGwei: '0.001',
    maxFeeGwei: '100',
    gasCurrency: 'ETH',
    fundingHint: 'the driver mints tGLM and sends ETH from the anvil dev account',
  },
  hoodi: {
    chainId: 560048,
    token: 'tglm',
    rpcUrls: ['https://rpc.hoodi.ethpandaops.io'],
    tokenAddress: '0x55555555555556AcFf9C332Ed151758858bd7a26',
    multiTransferAddress: '0x222222222220C9269Cfb43eD434888F604d1dC21',
    lockPaymentAddress: '0x472ef33B51f65FB2aDa50ffeB0e4A72e9ac22f52',
    testnet: true,
    requiredConfirmations: 3,
    ...testnetFees,
    gasCurrency: 'ETH',
    fundingHint:
      'get Hoodi ETH from a faucet (Golem runs one behind SRV _hoodi-faucet._tcp.dev.golem.network), then call create() on the tGLM mint contract 0x500F965199C63865A3E666cA3fF55B64F1c8Bc8b',
  },
  holesky: {
    chainId: 17000,
    token: 'tglm',
    rpcUrls: ['https://ethereum-holesky-rpc.publicnode.com'],
    tokenAddress: '0x8888888815bf4DB87e57B609A50f938311EEd068',
    multiTransferAddress: '0xAaAAAaA00E1841A63342db7188abA84BDeE236c7',
    testnet: true,
    requiredConfirmations: 3,
    ...testnetFees,
    gasCurrency: 'ETH',
    fundingHint:
      'get Holesky ETH from a faucet (Golem runs one behind SRV _holesky-faucet._tcp.dev.golem.network), then call create() on the Holesky tGLM mint contract',
  },
  sepolia: {
    chainId: 11155111,
    token: 'tglm',
    rpcUrls: ['https://ethereum-sepolia-rpc.publicnode.com'],
    tokenAddress: '0x167b15ada84c63427c6c813B915a42eFC72E7175',
    testnet: true,
    requiredConfirmations: 3,
    ...testnetFees,
    gasCurrency: 'ETH',
    fundingHint:
      'get Sepolia ETH from a public faucet (Golem has none), then call create() on the Sepolia tGLM mint contract',
  },
  amoy: {
    chainId: 80002,
    token: 'tglm',
    rpcUrls: ['https://rpc-amoy.polygon.technology'],
    tokenAddress: '0x2b60e60d3fb0b36a7ccb388f9e71570da4c4594f',
    multiTransferAddress: '0xa0a51642a594763d78091bf03ee6bf8e8d663bba',
    testnet: true,
    requiredConfirmations: 3,
    ...testnetFees,
    gasCurrency: 'POL',
    fundingHint: 'get Amoy POL from the Polygon faucet, then call create() on the Amoy tGLM mint contract',
  },
  polygon: {
    chainId: 137,
    token: 'glm',
    rpcUrls: ['https://polygon-rpc.com'],
    tokenAddress: '0x0B220b82F3eA3B7F6d9A1D8ab58930C064A2b5Bf',
    multiTransferAddress: '0x50100d4faf5f3b09987dea36dc2eddd57a3e561b',
    testnet: false,
    requiredConfirmations: 5,
    priorityFeeGwei: '25.011',
    maxFeeGwei: '500',
    gasCurrency: 'POL',
    fundingHint: 'mainnet: buy GLM and POL and send them to this address; nothing is minted',
  },
  mainnet: {
    chainId: 1,
    token: 'glm',
    rpcUrls: ['https://ethereum-rpc.publicnode.com'],
    tokenAddress: '0x7DD9c5Cba05E151C895FDe1CF355C9A1D5DA6429',
    multiTransferAddress: '0xCfD497F7D111F14c3eF7eBEeE63771d1506f0AF8',
    testnet: false,
    requiredConfirmations: 5,
    priorityFeeGwei: '1.01',
    maxFeeGwei: '40',
    gasCurrency: 'ETH',
    fundingHint: 'mainnet: buy GLM and ETH and send them to this address; nothing is minted',
  },
};

export const NETWORK_NAMES = Object.keys(defaults);

export type Env = Record<string, string | undefined>;

function envAddress(env: Env, key: string, fallback: string | undefined): Address | undefined {
  const value = env[key]?.trim() || fallback;
  if (value === undefined) return undefined;
  if (!isAddress(value, { strict: false })) {
    throw erc20Error(Erc20ErrorCode.BadAddress, `${key} is not an address: ${value}`, { key, value });
  }
  return getAddress(value);
}

function envGwei(env: Env, key: string, fallback: string): bigint {
  const value = env[key]?.trim() || fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw erc20Error(Erc20ErrorCode.BadAmount, `${key} must be a number of gwei: ${value}`, { key, value });
  }
  return parseGwei(value);
}

function envInt(env: Env, key: string, fallback: number): number {
  const value = env[key]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value)) {
    throw erc20Error(Erc20ErrorCode.BadAmount, `${key} must be a whole number: ${value}`, { key, value });
  }
  return Number(value);
}

export function resolveNetwork(name: string, env: Env = process.env): NetworkConfig {
  const base = defaults[name];
  if (base === undefined) {
    throw erc20Error(Erc20ErrorCode.UnknownPlatform, `unknown network ${name}`, {
      network: name,
      known: NETWORK_NAMES,
    });
  }
  const NET = name.toUpperCase();
  const symbol = base.token.toUpperCase();
  const rpc = env[`${NET}_GETH_ADDR`]
    ?.split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  const tokenAddress = envAddress(env, `${NET}_${symbol}_CONTRACT_ADDRESS`, base.tokenAddress) as Address;
  return {
    name,
    chainId: base.chainId,
    token: base.token,
    tokenSymbol: symbol,
    rpcUrls: rpc !== undefined && rpc.length > 0 ? rpc : base.rpcUrls,
    tokenAddress,
    multiTransferAddress: envAddress(env, `${NET}_MULTI_PAYMENT_CONTRACT_ADDRESS`, base.multiTransferAddress),
    lockPaymentAddress: envAddress(env, `${NET}_LOCK_PAYMENT_CONTRACT_ADDRESS`, base.lockPaymentAddress),
    testnet: base.testnet,
    requiredConfirmations: Math.max(
      1,
      envInt(env, `ERC20_${NET}_REQUIRED_CONFIRMATIONS`, base.requiredConfirmations),
    ),
    priorityFeePerGas: envGwei(env, `${NET}_PRIORITY_FEE`, base.priorityFeeGwei),
    maxFeePerGas: envGwei(env, `${NET}_MAX_FEE_PER_GAS`, base.maxFeeGwei),
    gasCurrency: base.gasCurrency,
    fundingHint: base.fundingHint,
  };
}

/** Seconds orders wait for companions before a batch goes out: a few on dev, Golem's 60 elsewhere. */
export function sendoutIntervalMs(network: string, env: Env = process.env): number {
  return envInt(env, 'ERC20_SENDOUT_INTERVAL_SECS', network === 'dev' ? 3 : 60) * 1000;
}

export function platformName(network: NetworkConfig): string {
  return `erc20-${network.name}-${network.token}`;
}

/** `erc20-holesky-tglm` → `holesky`; throws for another driver or a token the network does not have. */
export function networkOfPlatform(platform: string): string {
  const match = /^erc20-([a-z0-9]+)-([a-z0-9]+)$/.exec(platform);
  const name = match?.[1];
  const base = name === undefined ? undefined : defaults[name];
  if (base === undefined || match?.[2] !== base.token) {
    throw erc20Error(Erc20ErrorCode.UnknownPlatform, `unknown payment platform ${platform}`, {
      platform,
      known: NETWORK_NAMES.map((n) => `erc20-${n}-${defaults[n]?.token}`),
    });
  }
  return name as string;
}
