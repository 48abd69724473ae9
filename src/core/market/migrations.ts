import type { ModuleMigrations } from '../db/index.ts';

export const marketMigrations: ModuleMigrations = {
  module: 'market',
  migrations: [
    {
      version: 1,
      description: 'offers, demands, proposals, agreements, events',
      up: `
        CREATE TABLE market_offer (
          offer_id TEXT PRIMARY KEY,
          provider_id TEXT NOT NULL,
          body TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          received_at TEXT NOT NULL,
          own INTEGER NOT NULL DEFAULT 0,
          unsubscribed INTEGER NOT NULL DEFAULT 0,
          tombstone TEXT
        );
        CREATE INDEX market_offer_provider ON market_offer(provider_id);
        CREATE TABLE market_demand (
          demand_id TEXT PRIMARY KEY,
          requestor_id TEXT NOT NULL,
          properties TEXT NOT NULL,
          constraints TEXT NOT NULL,
          created_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE market_proposal (
          id TEXT NOT NULL,
          role TEXT NOT NULL,
          demand_id TEXT NOT NULL,
          offer_id TEXT NOT NULL,
          issuer TEXT NOT NULL,
          issuer_id TEXT NOT NULL,
          properties TEXT NOT NULL,
          constraints TEXT NOT NULL,
          prev_id TEXT,
          peer_id TEXT NOT NULL,
          state TEXT NOT NULL,
          countered INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL,
          PRIMARY KEY (id, role)
        );
        CREATE TABLE market_event (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          subscription_id TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX market_event_sub ON market_event(subscription_id, seq);
        CREATE TABLE market_agreement (
          id TEXT NOT NULL,
          role TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          content TEXT NOT NULL,
          state TEXT NOT NULL,
          app_session_id TEXT,
          proposed_signature TEXT,
          approved_signature TEXT,
          committed_signature TEXT,
          approved_at TEXT,
          termination TEXT,
          created_at TEXT NOT NULL,
          PRIMARY KEY (id, role)
        );
        CREATE TABLE market_agreement_event (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          agreement_id TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          app_session_id TEXT,
          event_date TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX market_agreement_event_date ON market_agreement_event(owner_id, event_date);
      `,
    },
    {
      version: 2,
      description: 'proposals looked up by demand and offer (matching checks for an existing one per offer)',
      up: 'CREATE INDEX market_proposal_demand_offer ON market_proposal(demand_id, offer_id);',
    },
    {
      version: 3,
      description: 'termination, cancellation and rejection notices waiting for the other side',
      up: `
        CREATE TABLE market_notice_outbox (
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
      `,
    },
  ],
};
