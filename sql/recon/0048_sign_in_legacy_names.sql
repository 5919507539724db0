-- Sign-in attempts recorded before migration 0047 under a name that is no account kept that name
-- as a plain SHA-256 prefix (unknown:<16 hex>), or, before that, as typed: often a password typed
-- into the username field, in a table every reader of recon may read (auditors, BI). Each is
-- re-recorded under this database's own key (recon.sign_in_name_key, which those readers cannot
-- read), so that a list of guessed passwords hashed the same way finds nothing. The rewrite is
-- keyed SHA-256 of the key followed by the old value (pgcrypto's hmac() is not assumed), marked
-- unknown:legacy: so that it is never taken for a current name; equal old values stay equal.
-- Names of accounts, single sign-on identities (sso:...) and rows recorded since 0047 (whose
-- unknown names are already keyed) are left as they are. Re-running it changes nothing.
UPDATE recon.sign_in_attempts a
SET username = 'unknown:legacy:'
               || substr(encode(sha256(convert_to(k.key || a.username, 'UTF8')), 'hex'), 1, 16)
FROM recon.sign_in_name_key k
WHERE a.at < (SELECT v.applied_at FROM recon.schema_version v WHERE v.version = 47)
  AND a.username NOT LIKE 'unknown:legacy:%'
  AND a.username NOT LIKE 'sso:%'
  AND NOT EXISTS (SELECT 1 FROM recon.console_users u WHERE u.name = a.username);
