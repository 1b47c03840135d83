-- ACME (RFC 8555): External Account Binding keys, accounts, orders,
-- authorizations and their challenges, and the secrets every CA process
-- shares (the nonce key).
CREATE TABLE acme_eab_keys (
  kid TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  hmac_key BYTEA NOT NULL,
  created BIGINT NOT NULL
);
CREATE INDEX acme_eab_keys_user ON acme_eab_keys(user_name);
CREATE TABLE acme_accounts (
  id TEXT PRIMARY KEY,
  template TEXT NOT NULL,
  thumbprint TEXT NOT NULL,
  jwk BYTEA NOT NULL,
  user_name TEXT NOT NULL,
  eab_kid TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('valid','deactivated','revoked')),
  contact TEXT NOT NULL DEFAULT '',
  created BIGINT NOT NULL
);
CREATE UNIQUE INDEX acme_accounts_key ON acme_accounts(template, thumbprint);
CREATE TABLE acme_orders (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  status TEXT NOT NULL CHECK (status IN ('pending','ready','processing','valid','invalid')),
  expires BIGINT NOT NULL,
  identifiers TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  replaces TEXT NOT NULL DEFAULT '',
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders(account_id, created);
CREATE INDEX acme_orders_replaces ON acme_orders(replaces);
CREATE TABLE acme_authzs (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES acme_orders(id),
  account_id TEXT NOT NULL,
  id_type TEXT NOT NULL,
  id_value TEXT NOT NULL,
  wildcard BOOLEAN NOT NULL DEFAULT FALSE,
  status TEXT NOT NULL CHECK (status IN ('pending','valid','invalid','deactivated','expired','revoked')),
  expires BIGINT NOT NULL,
  token TEXT NOT NULL
);
CREATE INDEX acme_authzs_order ON acme_authzs(order_id);
CREATE TABLE acme_challenges (
  authz_id TEXT NOT NULL REFERENCES acme_authzs(id),
  type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','processing','valid','invalid')),
  validated BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (authz_id, type)
);
CREATE TABLE acme_secrets (
  name TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
