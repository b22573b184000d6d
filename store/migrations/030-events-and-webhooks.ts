import type { Migration } from './migration';

export const eventsAndWebhooks: Migration = {
  version: 30,
  name: 'events and webhooks',
  sql: () => `
-- What happened to runs and connections, once per event (the id is derived from what happened, so
-- recording it again changes nothing). payload is the exact JSON body webhooks receive: ids,
-- statuses, counts and codes only.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  run_id TEXT,
  export_id TEXT,
  connection_id TEXT,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- Endpoints admins registered. secret is sealed with SECRETS_KEY (bound to the webhook id).
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  export_id TEXT,
  secret TEXT,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);

-- One delivery per (webhook, event); each try of it is an attempt.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id),
  event_id TEXT NOT NULL REFERENCES events(id),
  workflow_id TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);

CREATE TABLE webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
  attempt INTEGER NOT NULL,
  at TEXT NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
`,
};
