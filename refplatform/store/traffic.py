"""What the traffic generator writes: programs, affiliates, users, intents, endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from .base import Conn
from .jobs import enqueue_job


# ---------------------------------------------------------------------------------------------
# traffic
# ---------------------------------------------------------------------------------------------
def programs(conn: Conn) -> list[dict]:
    return conn.execute("SELECT id, currency FROM public.programs ORDER BY id").fetchall()


def insert_program(conn: Conn, *, program_id: str, name: str, currency: str, treasury: str,
                   direct_rate: Decimal, parent_rate: Decimal, now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.programs (id, name, currency, treasury_address, direct_commission_rate,"
        " parent_commission_rate, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO NOTHING", (program_id, name, currency, treasury, direct_rate,
                                         parent_rate, now))


def insert_affiliate(conn: Conn, *, affiliate_id: str, program_id: str, parent_id: str | None,
                     now: datetime) -> None:
    conn.execute("INSERT INTO public.affiliates (id, program_id, code, parent_id, created_at)"
                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                 (affiliate_id, program_id, affiliate_id.upper(), parent_id, now))


def program_affiliates(conn: Conn, program_id: str, limit: int = 200) -> list[str]:
    rows = conn.execute("SELECT id FROM public.affiliates WHERE program_id = %s ORDER BY id"
                        " LIMIT %s", (program_id, limit)).fetchall()
    return [r["id"] for r in rows]


def program_users(conn: Conn, program_id: str, limit: int = 500) -> list[str]:
    rows = conn.execute("SELECT id FROM public.users WHERE program_id = %s ORDER BY id LIMIT %s",
                        (program_id, limit)).fetchall()
    return [r["id"] for r in rows]


def insert_user(conn: Conn, *, user_id: str, program_id: str, referred_by: str | None,
                now: datetime) -> None:
    conn.execute("INSERT INTO public.users (id, program_id, wallet, referred_by, created_at)"
                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                 (user_id, program_id, "0x" + uuid.uuid4().hex + uuid.uuid4().hex[:8],
                  referred_by, now))


def insert_intent_with_job(conn: Conn, *, intent_id: str, program_id: str, user_id: str,
                           amount: Decimal, currency: str, fault: str | None,
                           fault_repeats: int, now: datetime) -> int:
    conn.execute(
        "INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,"
        " idempotency_key, attempts, created_at, status_changed_at)"
        " VALUES (%s, %s, %s, %s, %s, 'created', %s, 0, %s, %s)",
        (intent_id, program_id, user_id, amount, currency, f"idem-{intent_id}", now, now))
    if fault:
        conn.execute("INSERT INTO public.platform_faults (intent_id, kind, remaining, created_at)"
                     " VALUES (%s, %s, %s, %s)", (intent_id, fault, fault_repeats, now))
    return enqueue_job(conn, intent_id, now)


def adoptable_endpoints(conn: Conn, program_id: str, keep_prefix: str) -> list[dict]:
    """Enabled endpoints of a program, other than traffic's own, that do not point at the
    current receiver yet (customers' servers, or a receiver of an earlier traffic run)."""
    return conn.execute(
        "SELECT id, secret FROM public.webhook_endpoints WHERE program_id = %s AND enabled"
        " AND id NOT LIKE 'ep\\_live\\_%%' AND left(url, length(%s)) <> %s ORDER BY id",
        (program_id, keep_prefix, keep_prefix)).fetchall()


def point_endpoint(conn: Conn, endpoint_id: str, url: str, secret: str) -> None:
    conn.execute("UPDATE public.webhook_endpoints SET url = %s, secret = %s WHERE id = %s",
                 (url, secret, endpoint_id))


def upsert_endpoint(conn: Conn, *, endpoint_id: str, program_id: str, url: str, secret: str,
                    now: datetime) -> None:
    conn.execute(
        "INSERT INTO public.webhook_endpoints (id, program_id, url, enabled, created_at, secret)"
        " VALUES (%s, %s, %s, true, %s, %s) ON CONFLICT (id) DO UPDATE SET url = excluded.url,"
        " secret = excluded.secret", (endpoint_id, program_id, url, now, secret))
