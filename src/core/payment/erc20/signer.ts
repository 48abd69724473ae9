/**
 * viem accounts whose keys live elsewhere: every signature is a 32-byte digest handed to `sign` (the payment module
 * passes one that calls the identity service's `Sign`), so the driver never holds a private key.
 */
import {
  type Address,
  getAddress,
  type Hex,
  hashMessage,
  hashTypedData,
  keccak256,
  type LocalAccount,
  parseSignature,
  recoverAddress,
  serializeTransaction,
} from 'viem';
import { toAccount } from 'viem/accounts';
import { Erc20ErrorCode, erc20Error } from './errors.ts';

/** Signs `digestHex` (32 bytes) as `address`; resolves to the 65-byte signature r‖s‖v, hex. */
export type DigestSigner = (address: string, digestHex: string) => Promise<string>;

export async function signDigest(sign: DigestSigner, address: Address, digest: Hex): Promise<Hex> {
  const signature = (await sign(address, digest)) as Hex;
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw erc20Error(Erc20ErrorCode.BadSignature, 'signer returned no 65-byte signature', { address });
  }
  // A signer for the wrong key would make transactions from someone else: check before anything is sent.
  const signer = await recoverAddress({ hash: digest, signature });
  if (signer !== address) {
    throw erc20Error(Erc20ErrorCode.BadSignature, `signature is by ${signer}, not by ${address}`, {
      address,
      signer,
    });
  }
  return signature;
}

export function remoteAccount(address: string, sign: DigestSigner): LocalAccount {
  const from = getAddress(address);
  return toAccount({
    address: from,
    async signMessage({ message }) {
      return signDigest(sign, from, hashMessage(message));
    },
    async signTypedData(typedData) {
      return signDigest(sign, from, hashTypedData(typedData));
    },
    async signTransaction(transaction, options) {
      const serializer = options?.serializer ?? serializeTransaction;
      const digest = keccak256(await serializer(transaction));
      const signature = parseSignature(await signDigest(sign, from, digest));
      return serializer(transaction, signature);
    },
  });
}
