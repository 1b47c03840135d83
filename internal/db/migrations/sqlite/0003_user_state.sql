-- A user can be disabled; version changes with every change to the user
-- record, so that web sessions bound to the record at sign-in end with it.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tokens_user ON tokens(user_name);
