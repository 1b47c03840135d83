-- Every CRL the CA signs, once: whoever takes a CRL number stores the
-- signed CRL, and every CA process serves the latest stored one.
CREATE TABLE crls (
  number INTEGER PRIMARY KEY,
  base INTEGER NOT NULL DEFAULT 0, -- 0: a full CRL; else the full CRL a delta CRL applies to
  this_update INTEGER NOT NULL,
  next_update INTEGER NOT NULL,
  revocations INTEGER NOT NULL, -- the revocation counter the CRL includes
  der BLOB NOT NULL
);
CREATE INDEX crls_base ON crls(base, number);
