CREATE TABLE users (
  name TEXT PRIMARY KEY,
  groups TEXT NOT NULL DEFAULT '',
  admin INTEGER NOT NULL DEFAULT 0,
  password_hash TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES users(name),
  created INTEGER NOT NULL
);
CREATE TABLE requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  requester TEXT NOT NULL,
  template TEXT NOT NULL,
  subject TEXT NOT NULL,
  csr BLOB,
  status TEXT NOT NULL CHECK (status IN ('pending','issued','denied')),
  submitted INTEGER NOT NULL,
  serial TEXT,
  reason TEXT NOT NULL DEFAULT '',
  decided_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_requester ON requests(requester, id);
CREATE INDEX requests_status ON requests(status, id);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  request_id INTEGER NOT NULL,
  requester TEXT NOT NULL,
  template TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  der BLOB NOT NULL
);
CREATE TABLE revocations (
  serial TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL,
  reason INTEGER NOT NULL,
  entry BLOB NOT NULL -- the DER revokedCertificates entry, encoded once
);
CREATE INDEX revocations_at ON revocations(revoked_at);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  template TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  request_id INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters(name, value) VALUES ('crl_number', 0), ('revocations', 0);
