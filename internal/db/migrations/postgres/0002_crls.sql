-- Every CRL the CA signs, once: whoever takes a CRL number stores the
-- signed CRL, and every CA process serves the latest stored one.
CREATE TABLE crls (
  number BIGINT PRIMARY KEY,
  base BIGINT NOT NULL DEFAULT 0, -- 0: a full CRL; else the full CRL a delta CRL applies to
  this_update BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  revocations BIGINT NOT NULL, -- the revocation counter the CRL includes
  der BYTEA NOT NULL
);
CREATE INDEX crls_base ON crls(base, number);
