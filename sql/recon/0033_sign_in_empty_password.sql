-- An empty password is now a recorded attempt that counts toward the lock (it used to return
-- before it was recorded, so it never did).
COMMENT ON COLUMN recon.sign_in_attempts.reason IS 'Why it failed: unknown, wrong_password, empty_password, disabled or rate_limited; NULL on success';
