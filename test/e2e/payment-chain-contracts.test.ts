/**
 * The dev contracts' rules, checked with viem against a real anvil: the tGLM faucet cap, packed multi-transfers, and
 * the deposit (lock) contract's spender-only, expiry, fee and pay-to-spender rules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  numberToHex,
  padHex,
  parseEther,
  parseEventLogs,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import {
  lockPaymentArtifact,
  multiTransferArtifact,
  testGlmArtifact,
} from '../../src/core/payment/erc20/contracts.generated.ts';
import { DEV_CONTRACTS } from '../../src/core/payment/erc20/networks.ts';
import { type Anvil, anvilRpc, deployDevContracts, startAnvil } from '../support/anvil.ts';

let anvil: Anvil;
let contracts: Awaited<ReturnType<typeof deployDevContracts>>;
const publicClient = () => createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
const wallet = (i: number) =>
  createWalletClient({
    account: privateKeyToAccount(anvil.privateKeys[i]!),
    chain: foundry,
    transport: http(anvil.rpcUrl),
  });

/** Sends a contract call from account `i`; resolves to the receipt, rejects when it would revert. */
async function send(
  i: number,
  address: Address,
  abi: readonly unknown[],
  functionName: string,
  args: unknown[],
) {
  const client = publicClient();
  const { request } = await client.simulateContract({
    account: privateKeyToAccount(anvil.privateKeys[i]!),
    address,
    // The token's errors too: they surface through the multi-transfer and lock contracts.
    abi: [...abi, ...testGlmArtifact.abi.filter((item) => item.type === 'error')],
    functionName,
    args,
  } as never);
  const hash = await wallet(i).writeContract(request as never);
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  return receipt;
}

async function reverts(promise: Promise<unknown>, errorName: string) {
  await assert.rejects(promise, (error: Error) => {
    assert.match(String(error.message), new RegExp(errorName));
    return true;
  });
}

const balanceOf = (address: Address) =>
  publicClient().readContract({
    address: contracts.token,
    abi: testGlmArtifact.abi,
    functionName: 'balanceOf',
    args: [address],
  });

const pack = (payee: Address, amount: bigint): Hex =>
  `0x${payee.slice(2).toLowerCase()}${padHex(numberToHex(amount), { size: 12 }).slice(2)}`;

before(async () => {
  anvil = await startAnvil();
  contracts = await deployDevContracts(anvil.rpcUrl);
  // Accounts 1..4 get tGLM from the faucet.
  for (let i = 1; i <= 4; i++) await send(i, contracts.token, testGlmArtifact.abi, 'create', []);
});
after(async () => anvil?.stop());

describe('dev deployment', () => {
  test('lands at the addresses the dev network is configured with, and deploying again changes nothing', async () => {
    assert.deepEqual(contracts, DEV_CONTRACTS);
    assert.deepEqual(await deployDevContracts(anvil.rpcUrl), DEV_CONTRACTS);
    assert.equal(
      await publicClient().readContract({
        address: contracts.token,
        abi: testGlmArtifact.abi,
        functionName: 'decimals',
      }),
      18,
    );
    assert.equal(
      await publicClient().readContract({
        address: contracts.token,
        abi: testGlmArtifact.abi,
        functionName: 'symbol',
      }),
      'tGLM',
    );
  });
});

describe('tGLM faucet', () => {
  test('mints 1000 tGLM to an address below 400 and refuses one at or above', async () => {
    const fresh = anvil.accounts[6]!;
    await send(0, contracts.token, testGlmArtifact.abi, 'mint', [fresh]);
    assert.equal(await balanceOf(fresh), parseEther('1000'));
    await reverts(send(0, contracts.token, testGlmArtifact.abi, 'mint', [fresh]), 'FaucetBalanceTooHigh');
    // Spend down to 399.99…: the faucet gives again.
    await send(6, contracts.token, testGlmArtifact.abi, 'transfer', [
      anvil.accounts[7]!,
      parseEther('600.01'),
    ]);
    await send(0, contracts.token, testGlmArtifact.abi, 'mint', [fresh]);
    assert.equal(await balanceOf(fresh), parseEther('1399.99'));
  });

  test('transferFrom needs an allowance and spends it; an unlimited one stays unlimited', async () => {
    const [owner, spender, to] = [anvil.accounts[1]!, anvil.accounts[2]!, anvil.accounts[8]!];
    await reverts(
      send(2, contracts.token, testGlmArtifact.abi, 'transferFrom', [owner, to, 1n]),
      'InsufficientAllowance',
    );
    await send(1, contracts.token, testGlmArtifact.abi, 'approve', [spender, 5n]);
    await send(2, contracts.token, testGlmArtifact.abi, 'transferFrom', [owner, to, 3n]);
    const allowance = (s: Address) =>
      publicClient().readContract({
        address: contracts.token,
        abi: testGlmArtifact.abi,
        functionName: 'allowance',
        args: [owner, s],
      });
    assert.equal(await allowance(spender), 2n);
    await reverts(
      send(2, contracts.token, testGlmArtifact.abi, 'transferFrom', [owner, to, 3n]),
      'InsufficientAllowance',
    );
  });
});

describe('multi-transfer', () => {
  test('pays packed payees from the payer after one approve, each as a Transfer(payer, payee) log', async () => {
    const payer = anvil.accounts[3]!;
    const payees = [
      anvil.accounts[7]!,
      '0x00000000000000000000000000000000000000aa',
      '0xffffffffffffffffffffffffffffffffffffff01',
    ] as Address[];
    const amounts = [1n, parseEther('1.5'), 2n ** 96n - 1n - parseEther('79228162000')];
    const before = await Promise.all(payees.map(balanceOf));
    const packed = payees.map((p, i) => pack(p, amounts[i]!));
    await reverts(
      send(3, contracts.multiTransfer, multiTransferArtifact.abi, 'golemTransferDirectPacked', [packed]),
      'InsufficientAllowance',
    );
    await send(3, contracts.token, testGlmArtifact.abi, 'approve', [
      contracts.multiTransfer,
      2n ** 256n - 1n,
    ]);
    const receipt = await send(
      3,
      contracts.multiTransfer,
      multiTransferArtifact.abi,
      'golemTransferDirectPacked',
      [packed],
    );
    const transfers = parseEventLogs({ abi: testGlmArtifact.abi, logs: receipt.logs, eventName: 'Transfer' });
    assert.deepEqual(
      transfers.map((t) => [t.args.from, t.args.to.toLowerCase(), t.args.value]),
      payees.map((p, i) => [payer, p.toLowerCase(), amounts[i]]),
    );
    const afterBalances = await Promise.all(payees.map(balanceOf));
    for (const [i, b] of afterBalances.entries()) assert.equal(b - before[i]!, amounts[i]);
  });

  test('the unpacked form checks that payees and amounts match', async () => {
    await reverts(
      send(3, contracts.multiTransfer, multiTransferArtifact.abi, 'golemTransferDirect', [
        [anvil.accounts[7]!],
        [1n, 2n],
      ]),
      'LengthMismatch',
    );
    await reverts(
      send(3, contracts.multiTransfer, multiTransferArtifact.abi, 'golemTransferDirectPacked', [[]]),
      'EmptyBatch',
    );
  });
});

describe('deposits (lock contract)', () => {
  const funderIndex = 4;
  const spenderIndex = 5;
  const lock = () => contracts.lockPayment;
  const abi = lockPaymentArtifact.abi;
  const getDeposit = (id: bigint) =>
    publicClient().readContract({ address: lock(), abi, functionName: 'getDeposit', args: [id] });
  const now = async () => (await publicClient().getBlock()).timestamp;

  before(async () => {
    await send(funderIndex, contracts.token, testGlmArtifact.abi, 'approve', [lock(), 2n ** 256n - 1n]);
  });

  test('id = funder << 96 ^ nonce; create pulls amount + fee; spender rules; close returns the rest and pays the fee', async () => {
    const funder = anvil.accounts[funderIndex]!;
    const spender = anvil.accounts[spenderIndex]!;
    const [payeeA, payeeB] = [anvil.accounts[8]!, anvil.accounts[9]!];
    const nonce = 7n;
    const validTo = (await now()) + 3600n;
    await reverts(
      send(funderIndex, lock(), abi, 'createDeposit', [nonce, funder, 10n, 1n, validTo]),
      'BadSpender',
    );
    await reverts(
      send(funderIndex, lock(), abi, 'createDeposit', [nonce, spender, 0n, 1n, validTo]),
      'ZeroAmount',
    );
    await reverts(
      send(funderIndex, lock(), abi, 'createDeposit', [nonce, spender, 10n, 1n, 1n]),
      'ValidToInPast',
    );
    const funderBefore = await balanceOf(funder);
    await send(funderIndex, lock(), abi, 'createDeposit', [
      nonce,
      spender,
      parseEther('10'),
      parseEther('1'),
      validTo,
    ]);
    const id = (BigInt(funder) << 96n) ^ nonce;
    assert.equal(await balanceOf(funder), funderBefore - parseEther('11'));
    const view = await getDeposit(id);
    assert.equal(view.funder, funder);
    assert.equal(view.spender, spender);
    assert.equal(view.nonce, nonce);
    assert.equal(view.amount, parseEther('10'));
    assert.equal(view.feeAmount, parseEther('1'));
    assert.equal(view.validTo, validTo);
    await reverts(
      send(funderIndex, lock(), abi, 'createDeposit', [nonce, spender, 1n, 0n, validTo]),
      'DepositExists',
    );

    // Only the spender pays, never to itself, never more than is left.
    await reverts(send(funderIndex, lock(), abi, 'depositSingleTransfer', [id, payeeA, 1n]), 'NotSpender');
    await reverts(
      send(spenderIndex, lock(), abi, 'depositSingleTransfer', [id, spender, 1n]),
      'PayToSpender',
    );
    await reverts(
      send(spenderIndex, lock(), abi, 'depositSingleTransfer', [id, payeeA, parseEther('10') + 1n]),
      'InsufficientDeposit',
    );
    const aBefore = await balanceOf(payeeA);
    const bBefore = await balanceOf(payeeB);
    const single = await send(spenderIndex, lock(), abi, 'depositSingleTransfer', [
      id,
      payeeA,
      parseEther('2'),
    ]);
    const multi = await send(spenderIndex, lock(), abi, 'depositTransfer', [
      id,
      [pack(payeeA, parseEther('1')), pack(payeeB, parseEther('3'))],
    ]);
    assert.equal(single.from, spender.toLowerCase());
    assert.equal(multi.from, spender.toLowerCase());
    assert.equal((await balanceOf(payeeA)) - aBefore, parseEther('3'));
    assert.equal((await balanceOf(payeeB)) - bBefore, parseEther('3'));
    assert.equal((await getDeposit(id)).amount, parseEther('4'));
    await reverts(
      send(spenderIndex, lock(), abi, 'depositTransfer', [id, [pack(spender, 1n)]]),
      'PayToSpender',
    );

    await reverts(send(funderIndex, lock(), abi, 'closeDeposit', [id]), 'NotSpender');
    const spenderBefore = await balanceOf(spender);
    const funderBeforeClose = await balanceOf(funder);
    await send(spenderIndex, lock(), abi, 'closeDeposit', [id]);
    assert.equal((await balanceOf(spender)) - spenderBefore, parseEther('1'));
    assert.equal((await balanceOf(funder)) - funderBeforeClose, parseEther('4'));
    // Closed: nothing more to spend, and the id cannot be created again.
    await reverts(send(spenderIndex, lock(), abi, 'depositSingleTransfer', [id, payeeA, 1n]), 'NoDeposit');
    await reverts(
      send(funderIndex, lock(), abi, 'createDeposit', [nonce, spender, 1n, 0n, validTo]),
      'DepositExists',
    );
  });

  test('the funder takes everything back only after expiry; extend may not shorten validTo', async () => {
    const funder = anvil.accounts[funderIndex]!;
    const spender = anvil.accounts[spenderIndex]!;
    const nonce = 8n;
    const validTo = (await now()) + 100n;
    await send(funderIndex, lock(), abi, 'createDeposit', [
      nonce,
      spender,
      parseEther('5'),
      parseEther('0.5'),
      validTo,
    ]);
    const id = (BigInt(funder) << 96n) ^ nonce;
    await reverts(
      send(funderIndex, lock(), abi, 'extendDeposit', [nonce, 0n, 0n, validTo - 1n]),
      'ValidToShrinks',
    );
    await send(funderIndex, lock(), abi, 'extendDeposit', [nonce, parseEther('1'), 0n, validTo + 100n]);
    await reverts(send(funderIndex, lock(), abi, 'terminateDeposit', [nonce]), 'NotExpired');
    await send(spenderIndex, lock(), abi, 'depositSingleTransfer', [id, anvil.accounts[8]!, parseEther('2')]);
    await anvilRpc(anvil.rpcUrl, 'evm_increaseTime', [201]);
    await anvilRpc(anvil.rpcUrl, 'evm_mine');
    await reverts(send(spenderIndex, lock(), abi, 'terminateDeposit', [nonce]), 'NoDeposit');
    const before = await balanceOf(funder);
    await send(funderIndex, lock(), abi, 'terminateDeposit', [nonce]);
    assert.equal((await balanceOf(funder)) - before, parseEther('4.5'));
    await reverts(send(spenderIndex, lock(), abi, 'closeDeposit', [id]), 'NoDeposit');
  });
});
