"""Console accounts (DESIGN §9): `sge-recon users …` as a process (password from standard input,
`Error: …` exit 3), the stored hash, sign-in with its audit trail and the failed-attempt lock."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from sge_recon.accounts import MAX_FAILURES, hash_password, verify_password


def users(args, env, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "sge_recon", "users", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_users_add_list_disable_set_password(cli_env, db):
    out = users(["add", "Ada", "--role", "operator"], cli_env, "a long enough secret\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Created ada (operator)."
    out = users(["add", "bob", "--role", "approver", "--approver-key", "1"], cli_env,
                "another long secret\n")
    assert out.returncode == 0, out.stderr
    row = db.fetch_one("SELECT role, approver_slot, password_hash, disabled "
                       "FROM recon.console_users WHERE name = 'ada'")
    assert row["role"] == "operator" and not row["disabled"]
    assert row["password_hash"].startswith("scrypt$16384$8$1$")
    assert "a long enough secret" not in row["password_hash"]
    assert verify_password("a long enough secret", row["password_hash"])
    listed = users(["list"], cli_env).stdout
    assert "ada" in listed and "operator" in listed and "bob" in listed and "approver  1" in listed
    assert users(["set-password", "ada"], cli_env, "a brand new secret\n").returncode == 0
    assert verify_password("a brand new secret", db.fetch_one(
        "SELECT password_hash FROM recon.console_users WHERE name = 'ada'")["password_hash"])
    assert users(["disable", "ada"], cli_env).returncode == 0
    assert "disabled" in users(["list"], cli_env).stdout


def test_users_mistakes_are_error_lines_with_exit_3(cli_env):
    cases = [
        (["add", "x", "--role", "viewer"], "short\n", "at least 10 characters"),
        (["add", "x", "--role", "viewer"], "", "no password on standard input"),
        (["add", "x", "--role", "approver"], "a long enough secret\n", "--approver-key 1 or 2"),
        (["add", "x", "--role", "viewer", "--approver-key", "1"], "a long enough secret\n",
         "only for accounts with --role approver"),
        (["add", "Not Valid!", "--role", "viewer"], "a long enough secret\n", "is not valid"),
        (["disable", "nobody"], None, "no account named 'nobody'"),
        (["set-password", "nobody"], "a long enough secret\n", "no account named 'nobody'"),
    ]
    for args, stdin, message in cases:
        out = users(args, cli_env, stdin)
        assert out.returncode == 3, (args, out.stderr)
        assert out.stderr.startswith("Error: ") and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    out = users(["add", "x", "--role", "root"], cli_env, "a long enough secret\n")
    assert out.returncode != 0 and "Traceback" not in out.stderr


def test_one_account_per_approver_key_and_names_are_unique(recon):
    recon.accounts.add("alice", "approver", "a long enough secret", approver_slot=1)
    for name, slot, message in (("carol", 1, "approver key 1 is already held by 'alice'"),
                                ("alice", 2, "already exists")):
        try:
            recon.accounts.add(name, "approver", "a long enough secret", approver_slot=slot)
        except Exception as exc:  # noqa: BLE001
            assert message in str(exc)
        else:
            raise AssertionError("accepted")
    recon.accounts.set_disabled("alice")
    recon.accounts.add("carol", "approver", "a long enough secret", approver_slot=1)


def test_sign_in_is_audited_and_repeated_failures_lock_the_name(recon, db):
    recon.accounts.add("ada", "operator", "the right password")
    assert recon.accounts.sign_in("ADA ", "the right password").ok  # names are case-insensitive
    assert not recon.accounts.sign_in("nobody", "whatever password").ok
    assert recon.accounts.sign_in("ada", "wrong").message == "Wrong username or password."
    for _ in range(MAX_FAILURES - 1):
        recon.accounts.sign_in("ada", "wrong")
    locked = recon.accounts.sign_in("ada", "the right password")  # even the right one, now
    assert not locked.ok and "Too many failed sign-ins" in locked.message
    reasons = [r["reason"] for r in db.fetch_all(
        "SELECT reason FROM recon.sign_in_attempts WHERE username = 'ada' ORDER BY id")]
    assert reasons == [None] + ["wrong_password"] * MAX_FAILURES + ["rate_limited"]
    from sge_recon.accounts import unknown_name  # a name that is no account: its hash only

    key = db.fetch_one("SELECT key FROM recon.sign_in_name_key")["key"]
    assert db.fetch_one("SELECT reason FROM recon.sign_in_attempts WHERE username = %s",
                        (unknown_name("nobody", key),)) == {"reason": "unknown"}
    recon.accounts.add("vic", "viewer", "the right password")
    recon.accounts.set_disabled("vic")
    assert "disabled" in recon.accounts.sign_in("vic", "the right password").message


def test_hashes_are_salted_per_user():
    one, two = hash_password("same password"), hash_password("same password")
    assert one != two and verify_password("same password", one)
    assert not verify_password("other", one) and not verify_password("x", "garbage")


def test_the_demo_creates_one_account_per_role_with_passwords_in_a_private_file(recon,
                                                                                tmp_path):
    import stat
    from dataclasses import replace

    from refplatform.demo import Demo, DemoOptions

    settings = replace(recon.settings, SGE_RECON_HOME=str(tmp_path / "home"))
    settings.home.mkdir(parents=True)
    demo = Demo(settings, DemoOptions(), set(), echo=lambda _: None)
    path = demo._demo_accounts(recon)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = [line.split() for line in path.read_text().splitlines() if not line.startswith("#")]
    assert [(r[0], r[1]) for r in rows] == [("viewer", "viewer"), ("operator", "operator"),
                                            ("approver1", "approver"), ("approver2", "approver"),
                                            ("admin", "admin")]
    for name, _, password, *_ in rows:
        assert recon.accounts.sign_in(name, password).ok
    assert [a.approver_slot for a in recon.accounts.list() if a.role == "approver"] == [1, 2]
    assert demo._demo_accounts(recon).read_text() == path.read_text()  # a rerun keeps them


def test_sessions_resume_until_signed_out_disabled_or_expired(recon, db):
    recon.accounts.add("ada", "operator", "the right password")
    token = recon.accounts.start_session("ada")
    assert recon.accounts.resume(token).name == "ada"
    stored = db.fetch_one("SELECT token_sha256 FROM recon.console_sessions")["token_sha256"]
    assert token not in stored and len(stored) == 64  # only its SHA-256 is kept
    assert recon.accounts.resume("forged-token") is None and recon.accounts.resume(None) is None
    recon.accounts.end_session(token)
    assert recon.accounts.resume(token) is None  # signed out
    token = recon.accounts.start_session("ada")
    recon.accounts.set_disabled("ada")
    assert recon.accounts.resume(token) is None  # disabled: stops at once
    recon.accounts.set_disabled("ada", False)
    assert recon.accounts.resume(token) is None  # ... for good: enabling it signs nobody in
    token = recon.accounts.start_session("ada")
    db.execute("UPDATE recon.console_sessions SET expires_at = now() - interval '1 second'")
    assert recon.accounts.resume(token) is None  # expired


def test_readers_see_accounts_but_no_password_or_session_hash(recon, db):
    import psycopg

    recon.accounts.add("ada", "operator", "the right password")
    recon.accounts.start_session("ada")
    with db.transaction() as conn:
        conn.execute("SET LOCAL ROLE sge_recon_readonly")
        assert conn.execute("SELECT name, role FROM recon.console_users").fetchall() == \
            [{"name": "ada", "role": "operator"}]
    for sql in ("SELECT password_hash FROM recon.console_users",
                "SELECT token_sha256 FROM recon.console_sessions"):
        try:
            with db.transaction() as conn:
                conn.execute("SET LOCAL ROLE sge_recon_readonly")
                conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege:
            continue
        raise AssertionError(f"a reader could run {sql}")


def test_single_sign_on_identities_map_to_accounts_and_others_are_refused(recon, db):
    """OIDC (st.login): the identity provider says who; the linked account says what."""
    from sge_recon.accounts import identity_from_claims

    recon.accounts.add("eve", "operator", None, sso_identity="Eve@Example.com")
    recon.accounts.add("ada", "viewer", "a long enough secret")
    recon.accounts.link_sso("ada", "ada@example.com")
    ok = recon.accounts.sso_sign_in("eve@example.com", "Example SSO")
    assert ok.ok and ok.account.name == "eve" and ok.account.role == "operator"
    assert recon.accounts.sso_sign_in("ada@example.com").account.role == "viewer"
    unknown = recon.accounts.sso_sign_in("mallory@example.com", "Example SSO")
    assert not unknown.ok and unknown.account is None
    assert "no console account is linked to that identity" in unknown.message
    assert "sge-recon users link-sso NAME mallory@example.com" in unknown.message
    recon.accounts.set_disabled("eve")
    refused = recon.accounts.sso_sign_in("eve@example.com")
    assert not refused.ok and "disabled" in refused.message
    # an account without a password never signs in with the form
    recon.accounts.set_disabled("eve", False)
    assert not recon.accounts.sign_in("eve", "").ok
    assert recon.accounts.sign_in("eve", "anything at all").message == \
        "Wrong username or password."
    rows = db.fetch_all("SELECT username, ok, reason FROM recon.sign_in_attempts "
                        "WHERE username LIKE 'sso:%%' ORDER BY id")
    assert [(r["username"], r["ok"], r["reason"]) for r in rows] == [
        ("sso:eve@example.com", True, None), ("sso:ada@example.com", True, None),
        ("sso:mallory@example.com", False, "sso_unknown"),
        ("sso:eve@example.com", False, "disabled")]
    # one account per identity; unlinking needs a password to remain
    try:
        recon.accounts.link_sso("ada", "EVE@example.com")
        raise AssertionError("one identity was linked to two accounts")
    except Exception as exc:  # UsageError
        assert "already linked to 'eve'" in str(exc)
    try:
        recon.accounts.link_sso("eve", None)
        raise AssertionError("an account without password lost its only way in")
    except Exception as exc:
        assert "has no password" in str(exc)
    assert recon.accounts.link_sso("ada", None).sso_identity is None
    # the claim that names the person
    assert identity_from_claims({"email": "a@x.io", "email_verified": True, "sub": "1"},
                                "email") == ("a@x.io", "")
    assert identity_from_claims({"email": "a@x.io", "email_verified": False}, "email")[0] is None
    assert identity_from_claims({"sub": "123"}, "sub") == ("123", "")
    missing, why = identity_from_claims({"sub": "123"}, "email")
    assert missing is None and "did not send the claim 'email'" in why


def test_users_cli_links_single_sign_on(cli_env, db):
    out = users(["add", "eve", "--role", "operator", "--sso", "eve@example.com"], cli_env)
    assert out.returncode == 0, out.stderr
    assert "single sign-on as eve@example.com" in out.stdout
    assert db.fetch_one("SELECT password_hash FROM recon.console_users WHERE name = 'eve'")[
        "password_hash"] is None
    assert users(["add", "ada", "--role", "viewer"], cli_env, "a long enough secret\n")\
        .returncode == 0
    assert users(["link-sso", "ada", "ada@example.com"], cli_env).returncode == 0
    listed = users(["list"], cli_env).stdout
    assert "eve@example.com" in listed and "ada@example.com" in listed
    out = users(["link-sso", "ada", "eve@example.com"], cli_env)
    assert out.returncode == 3 and out.stderr.startswith("Error: ") and \
        "already linked to 'eve'" in out.stderr and "Traceback" not in out.stderr
    out = users(["unlink-sso", "ada"], cli_env)
    assert out.returncode == 0 and "ada no longer signs in through single sign-on" in out.stdout
    # unlinking again changes nothing, says so, and records no change that did not happen
    before = db.fetch_one("SELECT count(*) AS n FROM recon.action_log")["n"]
    out = users(["unlink-sso", "ada"], cli_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ada had no single sign-on link; nothing changed."
    assert db.fetch_one("SELECT count(*) AS n FROM recon.action_log")["n"] == before


def test_parallel_guesses_cannot_pass_the_lock(recon, db):
    """Audit f #2: 40 wrong passwords at the same moment (one browser tab each): attempts for a
    name are serialised, so at most MAX_FAILURES passwords are checked; the rest are locked."""
    import threading

    recon.accounts.add("ada", "operator", "the right password")
    barrier = threading.Barrier(40)

    def guess(i: int) -> None:
        barrier.wait()
        recon.accounts.sign_in("ada", f"guess number {i:04d}")
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reasons = [r["reason"] for r in db.fetch_all(
        "SELECT reason FROM recon.sign_in_attempts WHERE username = 'ada'")]
    assert len(reasons) == 40
    assert reasons.count("wrong_password") == MAX_FAILURES
    assert reasons.count("rate_limited") == 40 - MAX_FAILURES
    assert not recon.accounts.sign_in("ada", "the right password").ok  # locked


def test_a_new_password_ends_the_sessions_of_the_old_one(recon, db):
    """Audit f #3: a reset is how a leaked password or session is cut off."""
    recon.accounts.add("ada", "operator", "the right password")
    token, other = recon.accounts.start_session("ada"), recon.accounts.start_session("ada")
    recon.accounts.add("bob", "operator", "bobs own password")
    bobs = recon.accounts.start_session("bob")
    recon.accounts.set_password("ada", "a brand new password")
    assert recon.accounts.resume(token) is None and recon.accounts.resume(other) is None
    assert recon.accounts.resume(bobs).name == "bob"  # only that account's sessions
    assert not recon.accounts.sign_in("ada", "the right password").ok
    assert recon.accounts.sign_in("ada", "a brand new password").ok
    fresh = recon.accounts.start_session("ada")
    assert recon.accounts.resume(fresh).name == "ada"


def test_the_same_password_in_another_unicode_form_signs_in(recon, db):
    """Audit f #7: NFKC on set and on check; a hash made before (from the raw form) still works."""
    import unicodedata

    nfc = unicodedata.normalize("NFC", "café-crème-2024")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    recon.accounts.add("zoe", "operator", nfd)  # typed on a Mac
    assert recon.accounts.sign_in("zoe", nfc).ok and recon.accounts.sign_in("zoe", nfd).ok
    # an account whose password was hashed raw (before normalising): both forms still sign in
    salt = b"\1" * 16
    legacy = hashlib.scrypt(nfd.encode(), salt=salt, n=2 ** 14, r=8, p=1,
                            maxmem=64 * 1024 * 1024, dklen=32)
    db.execute("UPDATE recon.console_users SET password_hash = %s WHERE name = 'zoe'",
               (f"scrypt$16384$8$1${salt.hex()}${legacy.hex()}",))
    assert recon.accounts.sign_in("zoe", nfd).ok
    assert not recon.accounts.sign_in("zoe", "café-crème-2025").ok


def test_empty_passwords_are_recorded_and_count_and_blank_ones_are_refused(recon, db):
    """Audit f #8: every attempt is recorded, an empty password too, and it counts towards the
    lock; a password of only spaces is not accepted when an account is created or reset."""
    import pytest

    from sge_recon.errors import UsageError

    recon.accounts.add("ada", "operator", "the right password")
    for _ in range(MAX_FAILURES):
        assert recon.accounts.sign_in("ada", "").message == "Type your username and password."
    reasons = [r["reason"] for r in db.fetch_all(
        "SELECT reason FROM recon.sign_in_attempts WHERE username = 'ada' ORDER BY id")]
    assert reasons == ["empty_password"] * MAX_FAILURES
    assert "Too many failed sign-ins" in recon.accounts.sign_in("ada", "the right password").message
    for blank in (" " * 12, "\t" * 10 + "\n"):
        with pytest.raises(UsageError, match="empty or only spaces"):
            recon.accounts.add("bob", "operator", blank)
        with pytest.raises(UsageError, match="empty or only spaces"):
            recon.accounts.set_password("ada", blank)


def test_every_account_change_by_the_cli_is_in_the_action_log(cli_env, db):
    """Audit f #6: who created an admin, reset a password or linked an identity, and when: each
    `sge-recon users` change is a recon.action_log row under the OS user (cli:<user>), in the
    same transaction as the change, never with the password."""
    env = {**cli_env, "LOGNAME": "opsperson", "USER": "opsperson"}
    env.pop("SUDO_USER", None)
    steps = [(["add", "eve", "--role", "admin"], "the first secret pw\n"),
             (["set-password", "eve"], "the second secret pw\n"),
             (["disable", "eve"], None), (["enable", "eve"], None),
             (["link-sso", "eve", "eve@example.com"], None), (["unlink-sso", "eve"], None)]
    for args, stdin in steps:
        out = users(args, env, stdin)
        assert out.returncode == 0, out.stderr
    assert users(["disable", "nobody"], env).returncode == 3  # a refusal changes nothing
    rows = db.fetch_all("SELECT operator, action, target, result, request::text AS request "
                        "FROM recon.action_log ORDER BY id")
    assert [(r["operator"], r["action"], r["target"], r["result"]) for r in rows] == [
        ("cli:opsperson", action, "account:eve", "ok") for action in (
            "add_account", "set_password", "disable_account", "enable_account", "link_sso",
            "unlink_sso")]
    assert '"role": "admin"' in rows[0]["request"]
    assert '"sso": "eve@example.com"' in rows[4]["request"]
    hashed = db.fetch_one("SELECT password_hash FROM recon.console_users")["password_hash"]
    for r in rows:
        assert "secret pw" not in r["request"] and hashed not in r["request"]


def test_changing_the_single_sign_on_link_ends_the_sessions_of_the_account(recon):
    """A sign-in made through the old link must not outlive it (an identity relinked to another
    person, or unlinked because it left the company); the same link again changes nothing."""
    recon.accounts.add("eve", "operator", "eves own password", sso_identity="eve@example.com")
    token = recon.accounts.start_session("eve")
    recon.accounts.link_sso("eve", "EVE@example.com")  # the same identity: nothing ends
    assert recon.accounts.resume(token).name == "eve"
    recon.accounts.link_sso("eve", "eve.smith@example.com")
    assert recon.accounts.resume(token) is None
    token = recon.accounts.start_session("eve")
    recon.accounts.link_sso("eve", None)
    assert recon.accounts.resume(token) is None


@pytest.mark.parametrize("verified, used", [
    (True, True), ("true", True), ("TRUE", True),  # Apple sends the string "true"
    (False, False), ("false", False), ("False", False), ("no", False), (0, False),
    (None, False), ("", False)])
def test_an_email_is_an_identity_only_when_the_provider_says_it_is_verified(verified, used):
    """A string "false" is not verified (it is truthy, and it is not False): someone who typed
    another person's email at the provider without proving it must not sign in as them."""
    from sge_recon.accounts import identity_from_claims

    identity, why = identity_from_claims({"email": "eve@example.com", "sub": "u-9",
                                          "email_verified": verified}, "email")
    assert (identity == "eve@example.com") is used
    assert used or "not verified" in why


def test_an_email_the_provider_does_not_vouch_for_is_refused_in_words():
    from sge_recon.accounts import identity_from_claims

    identity, why = identity_from_claims({"email": "eve@example.com", "sub": "u-9"}, "email")
    assert identity is None
    assert "no email_verified claim" in why and "OIDC_IDENTITY_CLAIM=sub" in why
    # the subject needs no such flag, and a claim that is a list is no identity
    assert identity_from_claims({"sub": "u-9"}, "sub") == ("u-9", "")
    assert identity_from_claims({"groups": ["a", "b"]}, "groups")[0] is None


def test_an_identity_maps_only_to_its_own_link_never_through_case_folding(recon, db):
    """The Kelvin sign (U+212A) lower-cases to k and the dotted İ to i in PostgreSQL: a person
    whose provider email is "\u212aevin@example.com" is not kevin. A subject id is compared
    exactly: "00uAbC" and "00uabc" are two people at the provider."""
    recon.accounts.add("kevin", "admin", None, sso_identity="kevin@example.com")
    recon.accounts.add("inga", "operator", None, sso_identity="inga@example.com")
    recon.accounts.add("okta", "viewer", None, sso_identity="00uAbC")
    assert recon.accounts.sso_sign_in("KEVIN@Example.COM").account.name == "kevin"
    for lookalike in ("\u212aevin@example.com", "\u0130nga@example.com"):
        refused = recon.accounts.sso_sign_in(lookalike)
        assert not refused.ok and "no console account is linked" in refused.message
    assert recon.accounts.sso_sign_in("00uAbC", claim="sub").account.name == "okta"
    for other in ("00uabc", "00UABC"):
        assert not recon.accounts.sso_sign_in(other, claim="sub").ok
    reasons = [r["reason"] for r in db.fetch_all(
        "SELECT reason FROM recon.sign_in_attempts WHERE NOT ok ORDER BY id")]
    assert reasons == ["sso_unknown"] * 4


def test_a_single_sign_on_sign_in_lasts_as_long_as_a_local_one():
    """Streamlit keeps the provider's claims in a 30-day cookie and never asks it again: without
    a limit, someone removed at the provider would stay signed in to the console for 30 days."""
    from sge_recon.accounts import SESSION_SECONDS
    from sge_recon.sso_claims import sign_in_too_old

    now = 1_800_000_000
    assert sign_in_too_old({"iat": now - 60}, now, SESSION_SECONDS) is None
    assert sign_in_too_old({"iat": now - SESSION_SECONDS + 1}, now, SESSION_SECONDS) is None
    old = sign_in_too_old({"iat": now - SESSION_SECONDS - 1}, now, SESSION_SECONDS)
    assert old and "more than 12 hours old" in old and "sign in again" in old
    for missing in ({}, {"iat": "yesterday"}, {"iat": True}):
        assert "no issue time (iat)" in sign_in_too_old(missing, now, SESSION_SECONDS)


def test_a_password_typed_into_the_username_field_is_never_recorded(recon, db):
    """Typed into the username field and sent (Enter, with the password field empty, or a
    browser's autofill one field off): recon.sign_in_attempts, readable by every reader of
    recon (auditors, BI), kept it in clear. A name that is no account is kept as a hash, and
    still locks after MAX_FAILURES like a real name (no telling them apart)."""
    secret = "Horse-Battery-Staple-9f3c"
    recon.accounts.add("ada", "operator", "the right password")
    assert not recon.accounts.sign_in(secret, "").ok
    for _ in range(MAX_FAILURES):
        recon.accounts.sign_in(secret, "the right password")
    assert "Too many failed sign-ins" in recon.accounts.sign_in(secret, "x").message
    rows = db.fetch_all("SELECT username::text || ' ' || coalesce(reason, '') AS row "
                        "FROM recon.sign_in_attempts")
    assert not [r for r in rows if secret.lower()[:6] in r["row"].lower()], rows
    assert db.fetch_one("SELECT has_table_privilege('sge_recon_readonly', "
                        "'recon.sign_in_attempts', 'SELECT') AS r")["r"]
    assert recon.accounts.sign_in("ADA", "the right password").ok  # real names as before
    assert db.fetch_one("SELECT count(*) AS n FROM recon.sign_in_attempts "
                        "WHERE username = 'ada' AND ok")["n"] == 1


@pytest.mark.parametrize("piped, words", [
    (b"geheim-\xe9t\xe9-1234\n", "not UTF-8 text"),  # a Latin-1 file
    (b"geheim-\x00-12345678\n", "contains a NUL character"),
], ids=["latin-1", "nul"])
def test_a_password_the_sign_in_page_cannot_send_is_an_error_line(cli_env, db, piped, words):
    """Audit "small" item 3: a non-UTF-8 password piped in was 'unexpected UnicodeEncodeError (a
    bug in sge-recon…)'; it is `Error: …` naming the problem, exit 3, the password not shown, and
    nothing changes (a NUL one was stored: an account no one could sign in to)."""
    def run(*args):
        out = subprocess.run([sys.executable, "-m", "sge_recon", "users", *args], env=cli_env,
                             input=piped, capture_output=True, timeout=120)
        err = out.stderr.decode("utf-8", "replace")
        assert out.returncode == 3, err
        assert err.startswith("Error: the password on standard input ") and words in err, err
        assert "geheim" not in err and "Traceback" not in err and "unexpected" not in err

    run("add", "latin", "--role", "viewer")
    assert db.fetch_one("SELECT count(*) AS n FROM recon.console_users WHERE name = 'latin'")["n"] == 0
    assert users(["add", "latin", "--role", "viewer"], cli_env, "a long enough secret\n").returncode == 0
    run("set-password", "latin")
    assert verify_password("a long enough secret", db.fetch_one(
        "SELECT password_hash FROM recon.console_users WHERE name = 'latin'")["password_hash"])


@pytest.mark.parametrize("identity", ["ada\x1b[2J@example.com", "ada\x01@example.com",
                                      "ada\x7f@example.com", "ada\x9b2J@example.com"],
                         ids=["esc", "soh", "del", "c1-csi"])
def test_a_single_sign_on_identity_with_a_control_character_is_refused(cli_env, db, identity):
    """`users add … --sso` took an identity holding control characters (no provider sends one)
    and `users list` then wrote them raw to the terminal (an ESC sequence clears or rewrites the
    screen an admin reads)."""
    out = users(["add", "eve", "--role", "viewer", "--sso", identity], cli_env)
    assert out.returncode == 3, out.stderr
    assert out.stderr.startswith("Error: single sign-on identity ") and "not valid" in out.stderr
    assert not any(c in out.stderr for c in "\x1b\x01\x7f\x9b")  # shown escaped
    assert db.fetch_one("SELECT count(*) AS n FROM recon.console_users")["n"] == 0


def test_a_wrong_name_is_said_before_a_password_is_asked_for(cli_env, db):
    """`users add 'Bad Name'` and `users set-password nobody` read the password first (at a
    terminal: typed twice) and only then said the name was wrong; with nothing on standard input
    they even said "no password" instead. The name's mistake comes first."""
    out = users(["add", "Bad Name", "--role", "viewer"], cli_env, "")
    assert out.returncode == 3
    assert out.stderr.startswith("Error: account name 'bad name' is not valid"), out.stderr
    out = users(["set-password", "nobody"], cli_env, "")
    assert out.returncode == 3
    assert out.stderr == "Error: no account named 'nobody'; see `sge-recon users list`\n"


def test_a_name_that_is_no_account_is_recorded_under_a_key_no_reader_has(recon, db, db_url):
    """Often a password typed into the name field: recorded as an HMAC under the database's own
    key (0047), not a plain SHA-256 that anyone reading recon.sign_in_attempts (auditors, BI)
    could test guessed passwords against. The same name still locks as one."""
    import hashlib
    import uuid

    import psycopg

    from sge_recon.accounts import unknown_name

    from .test_privileges import login_url

    for _ in range(MAX_FAILURES + 1):
        assert not recon.accounts.sign_in("Hunter2!", "whatever").ok
    assert "Too many failed sign-ins" in recon.accounts.sign_in("hunter2!", "x").message
    recorded = {r["username"] for r in db.fetch_all("SELECT username FROM recon.sign_in_attempts")}
    key = db.fetch_one("SELECT key FROM recon.sign_in_name_key")["key"]
    assert recorded == {unknown_name("hunter2!", key)}
    assert recorded != {"unknown:" + hashlib.sha256(b"hunter2!").hexdigest()[:16]}
    assert len(key) == 64 and int(key, 16)  # 244 random bits (two gen_random_uuid())

    auditor = f"auditor_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE ROLE {auditor} LOGIN IN ROLE sge_recon_readonly")
    try:
        with psycopg.connect(login_url(db_url, auditor)) as conn:
            assert conn.execute("SELECT count(*) FROM recon.sign_in_attempts").fetchone()[0] > 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT key FROM recon.sign_in_name_key")
    finally:
        db.execute(f"DROP ROLE {auditor}")


def test_names_recorded_before_the_key_are_rekeyed_and_accounts_are_not(recon):
    """Migration 0048: an unknown name recorded before 0047 (a plain SHA-256 prefix, or the text
    as typed) is re-recorded under the database's key; account names, SSO identities and rows
    recorded since stay as they are; equal old values stay equal; a second run changes nothing."""
    import hashlib

    from sge_recon.accounts import unknown_name

    recon.init_db()
    recon.accounts.add("alice", "viewer", "correct horse battery")
    db = recon.db
    key = db.fetch_one("SELECT key FROM recon.sign_in_name_key")["key"]
    before = db.fetch_one("SELECT applied_at - interval '1 day' AS t FROM recon.schema_version "
                          "WHERE version = 47")["t"]
    plain = "unknown:" + hashlib.sha256(b"hunter2!").hexdigest()[:16]
    current = unknown_name("hunter3!", key)
    rows = [(before, plain, "unknown"), (before, plain, "rate_limited"),
            (before, "tr0ub4dor&3", "unknown"), (before, "alice", "wrong_password"),
            (before, "sso:mallory@example.com", "sso_unknown")]
    for at, name, reason in rows:
        db.execute("INSERT INTO recon.sign_in_attempts (at, username, ok, reason) "
                   "VALUES (%s, %s, false, %s)", (at, name, reason))
    db.execute("INSERT INTO recon.sign_in_attempts (username, ok, reason) "
               "VALUES (%s, false, 'unknown')", (current,))
    db.execute("DELETE FROM recon.schema_version WHERE version = 48")
    recon.init_db()  # applies 0048 to the rows above
    after = [r["username"] for r in db.fetch_all(
        "SELECT username FROM recon.sign_in_attempts ORDER BY id")]
    legacy = ["unknown:legacy:" + hashlib.sha256((key + old).encode()).hexdigest()[:16]
              for old in (plain, plain, "tr0ub4dor&3")]
    assert after == legacy + ["alice", "sso:mallory@example.com", current]
    assert after[0] == after[1] and "hunter2" not in str(after) and plain not in after
    db.execute("DELETE FROM recon.schema_version WHERE version = 48")
    recon.init_db()
    assert [r["username"] for r in db.fetch_all(
        "SELECT username FROM recon.sign_in_attempts ORDER BY id")] == after
