-- Single sign-on (OpenID Connect through Streamlit's st.login): an account may be linked to one
-- identity of the configured provider (by default its verified email claim). The provider proves
-- who someone is; the linked account decides what they may do (role, approver key, disabled).
-- An account used only through single sign-on has no password.
ALTER TABLE recon.console_users ADD COLUMN IF NOT EXISTS sso_identity text NULL;
ALTER TABLE recon.console_users ALTER COLUMN password_hash DROP NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS console_users_sso_identity_idx
    ON recon.console_users (lower(sso_identity)) WHERE sso_identity IS NOT NULL;
COMMENT ON COLUMN recon.console_users.sso_identity IS 'Single sign-on: the OpenID Connect identity (the OIDC_IDENTITY_CLAIM of the ID token, by default the verified email) that signs in as this account; at most one account per identity; NULL: no single sign-on';
COMMENT ON COLUMN recon.console_users.password_hash IS 'scrypt$n$r$p$salt$hash of the password (per-user random salt); the password itself is never stored; NULL for an account that signs in only through single sign-on';

-- The viewer's timezone (IANA name, e.g. Europe/Berlin): the console shows times in it. NULL: UTC.
ALTER TABLE recon.console_users ADD COLUMN IF NOT EXISTS timezone text NULL;
COMMENT ON COLUMN recon.console_users.timezone IS 'The timezone this account chose in the console (IANA name, e.g. Europe/Berlin); times are shown in it; NULL: UTC';
