"""``sge-recon users``: the console's local accounts (DESIGN §9).

Passwords are read from standard input (one line; a terminal asks twice without echo), never
from the command line, so they stay out of shell history and process listings.
"""

from __future__ import annotations

import getpass
import os
import sys

import click

from ..accounts import ROLES, check_name
from ..errors import NotFoundError, UsageError


def cli_operator() -> str:
    """Who the account changes of this command are recorded under in recon.action_log: the OS
    user running it (the one sudo was run by, when run through sudo), as ``cli:<user>``."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return "cli:" + ("".join(c for c in user if c.isprintable())[:48] or "unknown")


PASSWORD_MAX_CHARS = 1024


def read_password() -> str:
    if sys.stdin.isatty():
        return _usable(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline(PASSWORD_MAX_CHARS + 2)  # bounded: `< /dev/zero` has no line end
    password = line.rstrip("\r\n")
    if len(password) > PASSWORD_MAX_CHARS:
        raise UsageError(f"the password on standard input is longer than {PASSWORD_MAX_CHARS:,} "
                         "characters (or is no line of text, e.g. /dev/zero); pipe one line; "
                         "nothing was changed")
    if not password:
        raise UsageError("no password on standard input; pipe one line, e.g. "
                         "`printf '%s\\n' \"$PW\" | sge-recon users add NAME --role viewer`")
    return _usable(password)


def _usable(password: str) -> str:
    """The password, when the sign-in page can take it; never quoted in a message."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (stdin decodes them as surrogates)
        raise UsageError("the password on standard input is not UTF-8 text (a file or terminal "
                         "in another encoding, e.g. Latin-1); give it as UTF-8, as the sign-in "
                         "page sends it, e.g. `iconv -f latin1 -t utf-8 pw.txt | sge-recon users "
                         "add NAME --role viewer`; nothing was changed") from None
    if "\0" in password:
        raise UsageError("the password on standard input contains a NUL character, which no "
                         "sign-in page can send; choose another password; nothing was changed")
    return password


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def users() -> None:
    """Manage the console's local accounts (sign-in with Username and Password).

    \b
    Roles: viewer (reads), operator (routine actions), approver (operator + approves payouts
    with the approver key it is bound to), admin (operator + executes payouts, corrections).

    \b
    Examples:
      printf '%s\\n' "$PW" | sge-recon users add ada --role operator
      printf '%s\\n' "$PW" | sge-recon users add bob --role approver --approver-key 1
      sge-recon users add eve --role operator --sso eve@example.com   (single sign-on only)
      sge-recon users link-sso ada ada@example.com
      sge-recon users set-platform-id bob finance:bob   (SGE: bob's X-Admin-Id)
      sge-recon users list
      sge-recon users disable ada

    \b
    Single sign-on (OIDC_* settings): the identity provider says who someone is (the
    OIDC_IDENTITY_CLAIM of the ID token, by default the verified email); the account linked to
    that identity gives the role. An identity linked to no account is refused.

    \b
    SGE platform (admin_api: sge): an account that approves or executes payout batches carries
    the person's SGE admin id (--platform-id, or `users set-platform-id`), which the console
    sends as X-Admin-Id; without one those actions are refused.
    """


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="What the account may do in the console.")
@click.option("--approver-key", "slot", type=click.IntRange(1, 2), default=None,
              help="Approvers only: which payout approver key (PAYOUT_APPROVER_1 or _2) the "
                   "console uses for this account's approvals; one account per key.")
@click.option("--sso", "sso_identity", default=None, metavar="IDENTITY",
              help="Sign in through single sign-on (OpenID Connect) as this identity, e.g. the "
                   "person's email; no password is read and the account has none (add one "
                   "later with `users set-password`).")
@click.option("--platform-id", "platform_id", default=None, metavar="ID",
              help="The person's admin id on the platform (SGE: the X-Admin-Id it records as "
                   "createdById/approvedById, e.g. ops:alice); needed to approve or execute "
                   "payout batches on SGE. One account per id.")
@click.option("--replace", is_flag=True,
              help="An account of that name may exist: replace its role, approver key, "
                   "password, single sign-on link and platform id with these (enabled again); "
                   "every session of it ends, open tabs included.")
@click.pass_obj
def add(state, name: str, role: str, slot: int | None, sso_identity: str | None,
        platform_id: str | None, replace: bool) -> None:
    """Create an account; the password (at least 10 characters) is read from standard input,
    unless --sso links it to a single sign-on identity instead. --replace changes an existing
    account's role (the only way to change one)."""
    check_name(name)  # a mistake in the name (or the database) is said before a password is typed
    accounts = state.recon_on_known_schema().accounts
    password = None if sso_identity is not None else read_password()
    account = accounts.add(name, role, password, approver_slot=slot, sso_identity=sso_identity,
                           by=cli_operator(), platform_id=platform_id, replace=replace)
    click.echo(f"{'Replaced' if replace else 'Created'} {account.label}"
               + (f", signing in through single sign-on as {account.sso_identity}"
                  if account.sso_identity else "")
               + (f", platform id {account.platform_id}" if account.platform_id else "") + ".")


@users.command("list")
@click.pass_obj
def list_(state) -> None:
    """List the accounts: name, role, approver key, created, disabled, platform id, SSO."""
    rows = state.recon_on_known_schema().accounts.list()
    if not rows:
        click.echo("No accounts. Create one with `sge-recon users add NAME --role admin`.")
        return
    click.echo(f"{'name':<24} {'role':<9} {'key':<4} {'created (UTC)':<17} {'state':<9} "
               f"{'platform id':<20} single sign-on")
    for a in rows:
        click.echo(f"{a.name:<24} {a.role:<9} {a.approver_slot or '-'!s:<4} "
                   f"{a.created_at:%Y-%m-%d %H:%M} {'disabled' if a.disabled else 'active':<9} "
                   f"{a.platform_id or '-':<20} {a.sso_identity or '-'}")


@users.command("disable")
@click.argument("name")
@click.pass_obj
def disable(state, name: str) -> None:
    """Disable an account: it can no longer sign in, and a signed-in session of it stops acting."""
    account = state.recon_on_known_schema().accounts.set_disabled(name, True, by=cli_operator())
    click.echo(f"Disabled {account.name}.")


@users.command("enable")
@click.argument("name")
@click.pass_obj
def enable(state, name: str) -> None:
    """Enable a disabled account again."""
    account = state.recon_on_known_schema().accounts.set_disabled(name, False, by=cli_operator())
    click.echo(f"Enabled {account.name}.")


@users.command("set-password")
@click.argument("name")
@click.pass_obj
def set_password(state, name: str) -> None:
    """Set an account's password, read from standard input."""
    accounts = state.recon_on_known_schema().accounts
    if accounts.get(check_name(name)) is None:  # said before a password is typed, twice
        raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
    password = read_password()
    account = accounts.set_password(name, password, by=cli_operator())
    click.echo(f"Password of {account.name} changed.")


@users.command("link-sso")
@click.argument("name")
@click.argument("identity")
@click.pass_obj
def link_sso(state, name: str, identity: str) -> None:
    """Let IDENTITY (the single sign-on identity, e.g. an email) sign in as account NAME."""
    account = state.recon_on_known_schema().accounts.link_sso(name, identity, by=cli_operator())
    click.echo(f"{account.label} now signs in through single sign-on as {account.sso_identity}.")


@users.command("unlink-sso")
@click.argument("name")
@click.pass_obj
def unlink_sso(state, name: str) -> None:
    """Stop single sign-on for account NAME (its password, if it has one, still works)."""
    accounts = state.recon_on_known_schema().accounts
    before = accounts.get(name)
    account = accounts.link_sso(name, None, by=cli_operator())
    if before is not None and before.sso_identity is None:
        click.echo(f"{account.name} had no single sign-on link; nothing changed.")
    else:
        click.echo(f"{account.name} no longer signs in through single sign-on.")


@users.command("set-platform-id")
@click.argument("name")
@click.argument("platform_id", required=False, metavar="[ID]")
@click.option("--clear", is_flag=True, help="Remove the account's platform id.")
@click.pass_obj
def set_platform_id(state, name: str, platform_id: str | None, clear: bool) -> None:
    """Set the person's admin id on the platform for account NAME (SGE: the X-Admin-Id the
    console sends for their approvals and executions, e.g. ops:alice), or --clear it."""
    if clear == (platform_id is not None):
        raise UsageError("give the platform id (e.g. `sge-recon users set-platform-id alice "
                         "ops:alice`) or --clear, not both or neither")
    account = state.recon_on_known_schema().accounts.set_platform_id(name, platform_id, by=cli_operator())
    click.echo(f"{account.name} now acts on the platform as {account.platform_id}."
               if account.platform_id else f"{account.name} has no platform id now.")
