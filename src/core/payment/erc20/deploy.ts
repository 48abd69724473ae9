/**
 * Puts the dev network's contracts on a local chain: the tGLM token, the multi-transfer and the lock contracts,
 * deployed by anvil's first dev account as its transactions 0, 1, 2, so their addresses are the ones the `dev`
 * network is configured with. Deploying again on a chain that has them changes nothing.
 */
import { type Address, createPublicClient, createWalletClient, getAddress, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { lockPaymentArtifact, multiTransferArtifact, testGlmArtifact } from './contracts.generated.ts';
import { ANVIL_DEV_PRIVATE_KEY, DEV_CONTRACTS } from './networks.ts';

export interface DevContracts {
  token: Address;
  multiTransfer: Address;
  lockPayment: Address;
}

export async function deployDevContracts(
  rpcUrl: string,
  deployerKey: Hex = ANVIL_DEV_PRIVATE_KEY,
): Promise<DevContracts> {
  const account = privateKeyToAccount(deployerKey);
  const publicClient = createPublicClient({ transport: http(rpcUrl) });
  const chainId = await publicClient.getChainId();
  const chain = {
    id: chainId,
    name: 'dev',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  };
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const existing = await publicClient.getCode({ address: DEV_CONTRACTS.lockPayment });
  if (deployerKey === ANVIL_DEV_PRIVATE_KEY && existing !== undefined && existing !== '0x')
    return { ...DEV_CONTRACTS };

  const deploy = async (
    abi: readonly unknown[],
    bytecode: Hex,
    args: readonly unknown[],
  ): Promise<Address> => {
    const hash = await wallet.deployContract({ abi, bytecode, args } as Parameters<
      typeof wallet.deployContract
    >[0]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== 'success' || receipt.contractAddress == null) {
      throw new Error(`deploying a dev contract failed in ${hash}`);
    }
    return getAddress(receipt.contractAddress);
  };
  const token = await deploy(testGlmArtifact.abi, testGlmArtifact.bytecode, []);
  const multiTransfer = await deploy(multiTransferArtifact.abi, multiTransferArtifact.bytecode, [token]);
  const lockPayment = await deploy(lockPaymentArtifact.abi, lockPaymentArtifact.bytecode, [token]);
  return { token, multiTransfer, lockPayment };
}
