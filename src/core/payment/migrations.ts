import type { ModuleMigrations } from '../db/index.ts';

/** Amounts are stored as decimal strings of the smallest token unit (see amount.ts). */
export const paymentMigrations: ModuleMigrations = {
  module: 'payment',
  migrations: [
    {
      version: 1,
      description:
        'accounts, allocations, agreements, activities, documents, events, outbox, orders, payments',
      up: `
        CREATE TABLE payment_account (
          platform TEXT NOT NULL,
          address TEXT NOT NULL,
          send INTEGER NOT NULL,
          receive INTEGER NOT NULL,
          PRIMARY KEY (platform, address)
        );
        CREATE TABLE payment_allocation (
          allocation_id TEXT PRIMARY KEY,
          owner_id TEXT NOT NULL,
          address TEXT NOT NULL,
          platform TEXT NOT NULL,
          total TEXT NOT NULL,
          spent TEXT NOT NULL,
          timeout TEXT,
          deposit TEXT,
          deposit_key TEXT,
          make_deposit INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          released_at TEXT
        );
        CREATE INDEX payment_allocation_owner ON payment_allocation(owner_id, released_at);
        CREATE UNIQUE INDEX payment_allocation_deposit ON payment_allocation(deposit_key)
          WHERE deposit_key IS NOT NULL AND released_at IS NULL;
        CREATE TABLE payment_agreement (
          agreement_id TEXT NOT NULL,
          role TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          peer_id TEXT NOT NULL,
          payee_addr TEXT NOT NULL,
          payer_addr TEXT NOT NULL,
          platform TEXT NOT NULL,
          app_session_id TEXT,
          total_accepted TEXT NOT NULL DEFAULT '0',
          total_scheduled TEXT NOT NULL DEFAULT '0',
          total_paid TEXT NOT NULL DEFAULT '0',
          created_at TEXT NOT NULL,
          PRIMARY KEY (agreement_id, role)
        );
        CREATE TABLE payment_activity (
          activity_id TEXT NOT NULL,
          role TEXT NOT NULL,
          agreement_id TEXT NOT NULL,
          total_accepted TEXT NOT NULL DEFAULT '0',
          total_scheduled TEXT NOT NULL DEFAULT '0',
          total_paid TEXT NOT NULL DEFAULT '0',
          PRIMARY KEY (activity_id, role)
        );
        CREATE TABLE payment_debit_note (
          debit_note_id TEXT NOT NULL,
          role TEXT NOT NULL,
          agreement_id TEXT NOT NULL,
          activity_id TEXT NOT NULL,
          body TEXT NOT NULL,
          total_amount_due TEXT NOT NULL,
          status TEXT NOT NULL,
          allocation_id TEXT,
          created_at TEXT NOT NULL,
          PRIMARY KEY (debit_note_id, role)
        );
        CREATE INDEX payment_debit_note_activity ON payment_debit_note(activity_id, role);
        CREATE TABLE payment_invoice (
          invoice_id TEXT NOT NULL,
          role TEXT NOT NULL,
          agreement_id TEXT NOT NULL,
          body TEXT NOT NULL,
          amount TEXT NOT NULL,
          status TEXT NOT NULL,
          allocation_id TEXT,
          created_at TEXT NOT NULL,
          PRIMARY KEY (invoice_id, role)
        );
        CREATE INDEX payment_invoice_agreement ON payment_invoice(agreement_id, role);
        CREATE TABLE payment_expenditure (
          allocation_id TEXT NOT NULL,
          agreement_id TEXT NOT NULL,
          activity_id TEXT,
          document_id TEXT NOT NULL,
          amount TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (document_id)
        );
        CREATE TABLE payment_event (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          role TEXT NOT NULL,
          document_id TEXT NOT NULL,
          agreement_id TEXT NOT NULL,
          event_type TEXT NOT NULL,
          event_date TEXT NOT NULL,
          extra TEXT
        );
        CREATE INDEX payment_event_feed ON payment_event(kind, owner_id, event_date);
        CREATE TABLE payment_outbox (
          key TEXT PRIMARY KEY,
          target_id TEXT NOT NULL,
          sender_id TEXT NOT NULL,
          address TEXT NOT NULL,
          message TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          last_error TEXT,
          created_at TEXT NOT NULL
        );
        CREATE TABLE payment_order (
          order_id TEXT PRIMARY KEY,
          owner_id TEXT NOT NULL,
          platform TEXT NOT NULL,
          payer_addr TEXT NOT NULL,
          payee_addr TEXT NOT NULL,
          payee_id TEXT NOT NULL,
          amount TEXT NOT NULL,
          items TEXT NOT NULL,
          status TEXT NOT NULL,
          payment_id TEXT,
          created_at TEXT NOT NULL
        );
        CREATE INDEX payment_order_status ON payment_order(status);
        CREATE TABLE payment_payment (
          payment_id TEXT NOT NULL,
          role TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          tx_hash TEXT NOT NULL,
          payee_addr TEXT NOT NULL,
          amount TEXT NOT NULL,
          body TEXT NOT NULL,
          signature TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (payment_id, role)
        );
        CREATE INDEX payment_payment_tx ON payment_payment(tx_hash, payee_addr, role);
      `,
    },
    {
      version: 2,
      description: 'payment orders remember the deposit they are paid from',
      up: 'ALTER TABLE payment_order ADD COLUMN deposit TEXT',
    },
    {
      version: 3,
      description:
        'released deposit-backed allocations remember when their deposit was handed to the driver to close',
      up: 'ALTER TABLE payment_allocation ADD COLUMN deposit_released_at TEXT',
    },
  ],
};
