/**
 * The payee's check of a payment: the transaction is mined successfully (with the network's confirmations) and its
 * receipt holds the token's `Transfer` logs to the payee, from the payer or in a transaction the payer sent (a
 * multi-transfer or a deposit payout), together worth at least the claimed amount.
 *
 * A transaction the payee's RPC does not have yet, or has with too few confirmations, is "not yet" (503), never a
 * refusal: the payer's outbox drops a message refused with a 4xx, and the payee would never learn of the payment.
 */
import { type Address, getAddress, type Hex, parseEventLogs } from 'viem';
import type { VerifiedPayment } from '../driver.ts';
import { checkedAddress, fromWei, toWei } from './amounts.ts';
import type { ChainClient } from './chain.ts';
import { testGlmArtifact } from './contracts.generated.ts';
import { Erc20ErrorCode, erc20Error } from './errors.ts';

export interface VerifyInput {
  txHash: string;
  payer: string;
  payee: string;
  amount: string;
}

/** Service Unavailable: ask again later (the payer's outbox retries it). */
const NOT_YET = 503;

/** An RPC call whose failure becomes a short coded error (502) naming the network, not viem's multi-line text. */
export async function rpc<T>(chain: ChainClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    const { shortMessage, details } = cause as { shortMessage?: unknown; details?: unknown };
    const reason = [shortMessage, details]
      .filter((part) => typeof part === 'string' && part !== '')
      .join(' ');
    throw erc20Error(
      Erc20ErrorCode.Rpc,
      `the ${chain.network.name} RPC did not answer: ${reason || String(cause)}`,
      { network: chain.network.name },
      { cause, httpStatus: 502 },
    );
  }
}

export async function verifyTransfer(chain: ChainClient, input: VerifyInput): Promise<VerifiedPayment> {
  if (typeof input.txHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(input.txHash)) {
    throw erc20Error(Erc20ErrorCode.TxNotFound, 'txHash must be a 32-byte hex transaction hash', {
      txHash: input.txHash,
    });
  }
  const payer = checkedAddress(input.payer, 'payer');
  const payee = checkedAddress(input.payee, 'payee');
  const claimed = toWei(input.amount);
  const hash = input.txHash.toLowerCase() as Hex;
  const receipt = await rpc(chain, () => chain.receipt(hash));
  if (receipt === null) {
    throw erc20Error(
      Erc20ErrorCode.TxNotFound,
      `transaction ${hash} is not on chain (yet)`,
      { txHash: hash },
      { httpStatus: NOT_YET },
    );
  }
  if (receipt.status !== 'success') {
    throw erc20Error(Erc20ErrorCode.TxFailed, `transaction ${hash} failed on chain`, { txHash: hash });
  }
  const latest = await rpc(chain, () => chain.client.getBlockNumber());
  const confirmations = latest - receipt.blockNumber + 1n;
  if (confirmations < BigInt(chain.network.requiredConfirmations)) {
    throw erc20Error(
      Erc20ErrorCode.TxNotConfirmed,
      `transaction ${hash} has ${confirmations} confirmations`,
      {
        txHash: hash,
        confirmations: Number(confirmations),
        required: chain.network.requiredConfirmations,
      },
      { httpStatus: NOT_YET },
    );
  }
  const sentByPayer = getAddress(receipt.from) === payer;
  const token: Address = chain.network.tokenAddress;
  const transfers = parseEventLogs({
    abi: testGlmArtifact.abi,
    logs: receipt.logs,
    eventName: 'Transfer',
    strict: true,
  })
    .filter((log) => getAddress(log.address) === token)
    .filter((log) => getAddress(log.args.to) === payee)
    .filter((log) => sentByPayer || getAddress(log.args.from) === payer);
  if (transfers.length === 0) {
    throw erc20Error(
      Erc20ErrorCode.NoMatchingTransfer,
      `transaction ${hash} has no token transfer from ${payer} to ${payee}`,
      {
        txHash: hash,
        payer,
        payee,
        token,
      },
    );
  }
  const total = transfers.reduce((sum, log) => sum + log.args.value, 0n);
  if (total < claimed) {
    throw erc20Error(
      Erc20ErrorCode.AmountTooSmall,
      `transaction ${hash} pays ${fromWei(total)}, less than ${input.amount}`,
      {
        txHash: hash,
        paid: fromWei(total),
        claimed: input.amount,
      },
    );
  }
  return {
    txHash: hash,
    payer,
    payee,
    amount: fromWei(total),
    blockNumber: receipt.blockNumber.toString(),
    transfers: transfers.map((log) => ({ logIndex: log.logIndex, amount: fromWei(log.args.value) })),
  };
}
