CREATE TABLE users (
  name TEXT PRIMARY KEY,
  groups TEXT NOT NULL DEFAULT '',
  admin BOOLEAN NOT NULL DEFAULT FALSE,
  password_hash TEXT NOT NULL DEFAULT '',
  created BIGINT NOT NULL
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES users(name),
  created BIGINT NOT NULL
);
CREATE TABLE requests (
  id BIGSERIAL PRIMARY KEY,
  requester TEXT NOT NULL,
  template TEXT NOT NULL,
  subject TEXT NOT NULL,
  csr BYTEA,
  status TEXT NOT NULL CHECK (status IN ('pending','issued','denied')),
  submitted BIGINT NOT NULL,
  serial TEXT,
  reason TEXT NOT NULL DEFAULT '',
  decided_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_requester ON requests(requester, id);
CREATE INDEX requests_status ON requests(status, id);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  request_id BIGINT NOT NULL,
  requester TEXT NOT NULL,
  template TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  der BYTEA NOT NULL
);
CREATE TABLE revocations (
  serial TEXT PRIMARY KEY,
  revoked_at BIGINT NOT NULL,
  reason INTEGER NOT NULL,
  entry BYTEA NOT NULL -- the DER revokedCertificates entry, encoded once
);
CREATE INDEX revocations_at ON revocations(revoked_at);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  template TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  request_id BIGINT NOT NULL DEFAULT 0,
  result TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters(name, value) VALUES ('crl_number', 0), ('revocations', 0);
