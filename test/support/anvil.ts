/**
 * A real anvil for tests and the devnet: `startAnvil()` runs node_modules/.bin/anvil on a free port (or a given one,
 * to restart a chain where it was) and resolves once it answers JSON-RPC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hex } from 'viem';
import { toHex } from 'viem';
import { mnemonicToAccount, privateKeyToAccount, sign } from 'viem/accounts';

export { deployDevContracts } from '../../src/core/payment/erc20/deploy.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ANVIL_BIN = join(root, 'node_modules', '.bin', 'anvil');
const MNEMONIC = 'test test test test test test test test test test test junk';

export interface AnvilOptions {
  port?: number;
  /** File the chain is dumped to on exit and loaded from on start (`--state`), to survive a restart. */
  stateFile?: string;
  /** Mine only on request (`--no-mining`). */
  noMining?: boolean;
  accounts?: number;
  extraArgs?: string[];
}

export interface Anvil {
  rpcUrl: string;
  port: number;
  accounts: `0x${string}`[];
  privateKeys: Hex[];
  process: ChildProcess;
  /** Stops anvil (SIGTERM, so `--state` is written) and waits for it to exit. */
  stop(): Promise<void>;
}

export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const count = options.accounts ?? 10;
  const args = ['--host', '127.0.0.1', '--port', String(options.port ?? 0), '--accounts', String(count)];
  if (options.stateFile !== undefined) args.push('--state', options.stateFile);
  if (options.noMining) args.push('--no-mining');
  args.push(...(options.extraArgs ?? []));
  const child = spawn(ANVIL_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on [\d.]+:(\d+)/.exec(output);
      if (match) {
        child.stdout?.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`anvil exited with ${code} before listening:\n${output}`)));
    child.once('error', reject);
  });
  child.stdout?.resume();
  child.stderr?.resume();
  const privateKeys: Hex[] = [];
  const accounts: `0x${string}`[] = [];
  for (let i = 0; i < count; i++) {
    const account = mnemonicToAccount(MNEMONIC, { addressIndex: i });
    accounts.push(account.address);
    privateKeys.push(toHex(account.getHdKey().privateKey as Uint8Array));
  }
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    accounts,
    privateKeys,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Sends a raw JSON-RPC request (anvil_* and evm_* methods viem has no action for). */
export async function anvilRpc(rpcUrl: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/**
 * A digest signer over known private keys, standing in for the identity service's `Sign` (which answers the same
 * 65-byte r‖s‖v with v = 27/28).
 */
export function keySigner(privateKeys: Hex[]): (address: string, digest: string) => Promise<string> {
  const byAddress = new Map(privateKeys.map((key) => [privateKeyToAccount(key).address.toLowerCase(), key]));
  return async (address, digest) => {
    const key = byAddress.get(address.toLowerCase());
    if (key === undefined) throw new Error(`no key for ${address}`);
    return sign({ hash: digest as Hex, privateKey: key, to: 'hex' });
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
