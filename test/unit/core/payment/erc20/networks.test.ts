import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGwei } from 'viem';
import { toWei } from '../../../../../src/core/payment/erc20/amounts.ts';
import {
  DEV_CONTRACTS,
  Erc20ErrorCode,
  networkOfPlatform,
  platformName,
  resolveNetwork,
} from '../../../../../src/core/payment/erc20/index.ts';
import { pack } from '../../../../../src/core/payment/erc20/manager.ts';
import { sendoutIntervalMs } from '../../../../../src/core/payment/erc20/networks.ts';

test('dev is anvil at 127.0.0.1:8545 with the contracts anvil account 0 deploys first', () => {
  const dev = resolveNetwork('dev', {});
  assert.equal(dev.chainId, 31337);
  assert.deepEqual(dev.rpcUrls, ['http://127.0.0.1:8545']);
  assert.equal(dev.tokenAddress, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
  assert.equal(dev.multiTransferAddress, DEV_CONTRACTS.multiTransfer);
  assert.equal(dev.lockPaymentAddress, DEV_CONTRACTS.lockPayment);
  assert.equal(platformName(dev), 'erc20-dev-tglm');
});

test("Golem's environment overrides: RPC fallbacks, contracts, fees, confirmations, sendout interval", () => {
  const env = {
    HOLESKY_GETH_ADDR: 'http://a:1, http://b:2',
    HOLESKY_TGLM_CONTRACT_ADDRESS: '0x00000000000000000000000000000000000000aa',
    HOLESKY_MULTI_PAYMENT_CONTRACT_ADDRESS: '0x00000000000000000000000000000000000000bb',
    HOLESKY_LOCK_PAYMENT_CONTRACT_ADDRESS: '0x00000000000000000000000000000000000000cc',
    HOLESKY_PRIORITY_FEE: '1.5',
    HOLESKY_MAX_FEE_PER_GAS: '30',
    ERC20_HOLESKY_REQUIRED_CONFIRMATIONS: '7',
    ERC20_SENDOUT_INTERVAL_SECS: '9',
  };
  const holesky = resolveNetwork('holesky', env);
  assert.deepEqual(holesky.rpcUrls, ['http://a:1', 'http://b:2']);
  assert.equal(holesky.tokenAddress, '0x00000000000000000000000000000000000000AA');
  assert.equal(holesky.multiTransferAddress, '0x00000000000000000000000000000000000000bb');
  assert.equal(holesky.lockPaymentAddress, '0x00000000000000000000000000000000000000cc');
  assert.equal(holesky.priorityFeePerGas, parseGwei('1.5'));
  assert.equal(holesky.maxFeePerGas, parseGwei('30'));
  assert.equal(holesky.requiredConfirmations, 7);
  assert.equal(sendoutIntervalMs('holesky', env), 9000);
  assert.equal(sendoutIntervalMs('polygon', {}), 60_000);
  assert.equal(sendoutIntervalMs('dev', {}), 3000);
  assert.throws(() => resolveNetwork('holesky', { HOLESKY_TGLM_CONTRACT_ADDRESS: 'nope' }), {
    code: Erc20ErrorCode.BadAddress,
  });
  assert.throws(() => resolveNetwork('holesky', { HOLESKY_MAX_FEE_PER_GAS: 'lots' }), {
    code: Erc20ErrorCode.BadAmount,
  });
});

test('platform names: glm on mainnet and polygon, tglm elsewhere; anything else is refused', () => {
  assert.equal(platformName(resolveNetwork('polygon', {})), 'erc20-polygon-glm');
  assert.equal(platformName(resolveNetwork('mainnet', {})), 'erc20-mainnet-glm');
  assert.equal(networkOfPlatform('erc20-hoodi-tglm'), 'hoodi');
  for (const bad of [
    'erc20-polygon-tglm',
    'erc20-holesky-glm',
    'zksync-mainnet-glm',
    'erc20-nowhere-tglm',
    '',
  ]) {
    assert.throws(() => networkOfPlatform(bad), { code: Erc20ErrorCode.UnknownPlatform }, bad);
  }
});

test('amounts are decimal strings of 18-decimal tokens; payments pack as address ‖ 12-byte amount', () => {
  assert.equal(toWei('1.5'), 1_500_000_000_000_000_000n);
  assert.equal(toWei('0.000000000000000001'), 1n);
  assert.equal(toWei('2.50000000000000000000000'), 2_500_000_000_000_000_000n);
  for (const bad of ['1e18', '-1', '1.', '.5', '0x10', ' 1', '1.0000000000000000001']) {
    assert.throws(() => toWei(bad), { code: Erc20ErrorCode.BadAmount }, bad);
  }
  assert.equal(
    pack('0x00000000000000000000000000000000000000Aa', 0x0102n),
    '0x00000000000000000000000000000000000000aa000000000000000000000102',
  );
});
