import type { ModuleMigrations } from '../../db/index.ts';

/** The erc20 driver's own tables: orders, the transactions that pay them (every signed variant), nonces, and
 * confirmations waiting for the payment module's acknowledgement. */
export const erc20Migrations: ModuleMigrations = {
  module: 'erc20',
  migrations: [
    {
      version: 1,
      description: 'orders, transactions and their signed attempts, nonces, confirmations',
      up: `
        CREATE TABLE erc20_tx (
          tx_id INTEGER PRIMARY KEY AUTOINCREMENT,
          platform TEXT NOT NULL,
          chain_id INTEGER NOT NULL,
          payer TEXT NOT NULL,
          nonce INTEGER NOT NULL,
          kind TEXT NOT NULL,
          to_address TEXT NOT NULL,
          data TEXT NOT NULL,
          gas_limit TEXT NOT NULL,
          status TEXT NOT NULL,
          confirmed_hash TEXT,
          block_number TEXT,
          gas_used TEXT,
          error TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX erc20_tx_open ON erc20_tx(status, platform);
        CREATE TABLE erc20_tx_attempt (
          hash TEXT PRIMARY KEY,
          tx_id INTEGER NOT NULL REFERENCES erc20_tx(tx_id),
          raw TEXT NOT NULL,
          max_fee_per_gas TEXT NOT NULL,
          priority_fee_per_gas TEXT NOT NULL,
          broadcast INTEGER NOT NULL DEFAULT 0,
          created_at INTEGER NOT NULL,
          broadcast_at INTEGER
        );
        CREATE INDEX erc20_tx_attempt_tx ON erc20_tx_attempt(tx_id);
        CREATE TABLE erc20_order (
          order_id TEXT PRIMARY KEY,
          platform TEXT NOT NULL,
          payer TEXT NOT NULL,
          payee TEXT NOT NULL,
          amount TEXT NOT NULL,
          deposit_id TEXT,
          deposit_contract TEXT,
          status TEXT NOT NULL,
          tx_id INTEGER REFERENCES erc20_tx(tx_id),
          failures INTEGER NOT NULL DEFAULT 0,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX erc20_order_pending ON erc20_order(status, platform, payer);
        CREATE INDEX erc20_order_tx ON erc20_order(tx_id);
        CREATE TABLE erc20_nonce (
          chain_id INTEGER NOT NULL,
          address TEXT NOT NULL,
          next_nonce INTEGER NOT NULL,
          PRIMARY KEY (chain_id, address)
        );
        CREATE TABLE erc20_confirmation (
          confirmation_id INTEGER PRIMARY KEY AUTOINCREMENT,
          tx_id INTEGER NOT NULL REFERENCES erc20_tx(tx_id),
          platform TEXT NOT NULL,
          payer TEXT NOT NULL,
          payee TEXT NOT NULL,
          amount TEXT NOT NULL,
          order_ids TEXT NOT NULL,
          tx_hash TEXT NOT NULL,
          block_number TEXT NOT NULL,
          confirmed_at TEXT NOT NULL,
          delivered INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX erc20_confirmation_undelivered ON erc20_confirmation(delivered);
      `,
    },
    {
      version: 2,
      description: 'deposit closes requested by the payment module (DriverReleaseDeposit)',
      up: `
        CREATE TABLE erc20_deposit_close (
          contract TEXT NOT NULL,
          deposit_id TEXT NOT NULL,
          platform TEXT NOT NULL,
          payer TEXT NOT NULL,
          status TEXT NOT NULL,
          tx_id INTEGER REFERENCES erc20_tx(tx_id),
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (contract, deposit_id)
        );
        CREATE INDEX erc20_deposit_close_pending ON erc20_deposit_close(status, platform, payer);
      `,
    },
  ],
};
