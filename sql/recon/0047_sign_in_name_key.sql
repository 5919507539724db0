-- A sign-in under a name that is no account is recorded as a hash of the name typed, never the
-- text (often a password typed into the username field). That hash was a plain SHA-256 prefix,
-- and recon.sign_in_attempts is readable by every reader of recon (auditors, BI): a list of
-- likely passwords hashed the same way found the ones typed. It is now an HMAC-SHA256 under this
-- database's own random key, which sge_recon_readonly cannot read (sql/privileges.sql). Rows
-- recorded before keep their old hash; the lock of an unknown name starts over under the new one.
CREATE TABLE IF NOT EXISTS recon.sign_in_name_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),   -- one row
    key text NOT NULL CHECK (length(key) >= 64)
);
-- gen_random_uuid() draws from the server's strong random source: 244 random bits in all
INSERT INTO recon.sign_in_name_key (id, key)
VALUES (true, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
ON CONFLICT (id) DO NOTHING;

COMMENT ON TABLE recon.sign_in_name_key IS
    'The key of the HMAC-SHA256 under which a sign-in name that is no account is recorded in recon.sign_in_attempts (unknown:<hmac prefix>). Read by sge_recon_app only; never shown.';
COMMENT ON COLUMN recon.sign_in_name_key.id IS 'Always true: the table holds one row';
COMMENT ON COLUMN recon.sign_in_name_key.key IS
    'The HMAC-SHA256 key (64 hex characters, from gen_random_uuid: the server''s strong random source) for names that are no account';
