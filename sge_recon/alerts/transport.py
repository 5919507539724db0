"""One alert POST, bounded in time, whose failure never shows the URL.

``post`` sends one request with ``http.client`` and raises :class:`DeliveryFailed` unless the
service answered 2xx. Whatever goes wrong (refused, TLS, a malformed or truncated answer, an
invalid URL, any exception of the HTTP stack) is ONE failed attempt of that channel: the caller
records it and moves on to the other channels.

Time: ``timeout`` is an overall deadline for the whole request (connect, TLS, send, answer), not a
per-read timeout: a receiver that trickles one byte every few seconds ("tarpit") is cut off when
the deadline passes (a timer shuts the socket down), so a slow channel never holds the monitor
job, and incident evaluation, for longer than that.

Plain ``http.client`` on purpose: HTTP client libraries log request URLs (httpx does at INFO), and
a webhook URL is a secret that must never reach a log. Messages carry the exception's type and a
fixed explanation, never the exception's own text when it may quote the URL or its path
(``http.client.InvalidURL`` does), and are scrubbed of the URL, its parts and the secrets.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import socket
import ssl
import threading
import urllib.request
from typing import Sequence
from urllib.parse import SplitResult, unquote, unquote_plus, urlsplit

from ..config import mask
from .message import cut

# A 4xx that retrying cannot fix (a malformed or refused message, a wrong/removed webhook): the
# message is given up at once, recorded as failed with the answer (see README "Incidents and
# alerts"). 408 (timeout) and 429 (rate limit) are transient and retried like 5xx.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 414, 422})
ANSWER_CHARS = 200   # of a failed answer, kept in last_error and the log
# read more than is kept: a secret the answer quotes (an echoed URL path, an echoed event) is
# scrubbed whole before the text is cut, never cut first and shown in part
ANSWER_BYTES = 4096
MIN_SECRET_TAIL = 4  # a secret's first characters, from this many, are hidden at the cut
MIN_SECRET_PART = 8  # a URL's path segment or query value this long is scrubbed on its own


class DeliveryFailed(Exception):
    """One attempt failed. ``retry_after`` (seconds) when the service asked us to wait;
    ``permanent`` when retrying cannot help (a permanent 4xx): the message is given up."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


def post(url: str, payload: dict | bytes, timeout: float = 5.0,
         headers: dict[str, str] | None = None, secrets: Sequence[str] = ()) -> None:
    """POST one payload within ``timeout`` seconds in all; raise DeliveryFailed (URL-free
    message) unless the service took it (2xx)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    hidden = [url, *_url_parts(url), *secrets]
    expired = threading.Event()
    conn: http.client.HTTPConnection | None = None
    timer: threading.Timer | None = None
    try:
        conn, target, extra = _connection(url, timeout)
        timer = threading.Timer(timeout, _abort, (conn, expired))
        timer.daemon = True
        timer.start()
        conn.connect()
        if expired.is_set():  # the deadline passed while connecting (no socket to shut yet)
            raise TimeoutError
        conn.request("POST", target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "sge-recon-alerts",
            **extra, **(headers or {})})
        response = conn.getresponse()
        status = response.status
        retry_after = response.getheader("Retry-After", "")
        answer = response.read(ANSWER_BYTES) if not 200 <= status < 300 else b""
    except DeliveryFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is one failed attempt of this channel
        if expired.is_set():
            raise DeliveryFailed(f"no complete answer within {timeout:g} s "
                                 "(the deadline for one request)") from None
        raise DeliveryFailed(_scrub(_describe(exc), hidden)) from None
    finally:
        if timer is not None:
            timer.cancel()
        if conn is not None:
            conn.close()
    if 200 <= status < 300:
        return
    text = _scrub(answer.decode("utf-8", "replace"), hidden)
    if len(answer) >= ANSWER_BYTES:  # the read stopped there: maybe inside a secret
        text = _scrub_tail(text, hidden)
    # one line of plain text: a receiver's newlines or terminal escapes never forge a log line
    text = cut(" ".join("".join(c if c.isprintable() else " " for c in text).split()),
               ANSWER_CHARS)
    message = f"HTTP {status}" + (f": {text}" if text else "")
    if status in PERMANENT_STATUSES:
        raise DeliveryFailed(message + " (permanent: not retried)", permanent=True)
    wait = None
    if status == 429:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
        if wait is not None and not 0 < wait < math.inf:  # nan, inf, 0 or negative: no advice
            wait = None
    raise DeliveryFailed(message, retry_after=wait)


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str, dict]:
    """(connection, request target, extra headers), through the environment's proxy (HTTP(S)_
    PROXY, NO_PROXY, as urllib does) when one applies."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryFailed("the URL is not an http(s) URL with a host")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise DeliveryFailed("the URL contains whitespace or control characters")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # user:password@ in the URL (a receiver behind HTTP Basic auth): sent as Authorization,
    # as curl and requests do, never in a request line (http.client would drop it: every
    # message refused with a 401 and given up)
    login = {"Authorization": f"Basic {_basic(parts)}"} if "@" in parts.netloc else {}
    proxy = _proxy_for(parts)
    if proxy is None:
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return cls(parts.hostname, parts.port, timeout=timeout), target, login
    auth = {}
    if proxy.username:
        auth = {"Proxy-Authorization": f"Basic {_basic(proxy)}"}
    conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout)
    if parts.scheme == "http":  # a plain-HTTP proxy takes the absolute URL (without user:pw@)
        absolute = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        return conn, absolute, {**auth, **login}
    tunnel = http.client.HTTPSConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout)
    tunnel.set_tunnel(parts.hostname, parts.port, headers=auth)
    return tunnel, target, login


def _basic(parts: SplitResult) -> str:
    """The HTTP Basic credentials of a URL's ``user:password@`` (percent-decoded), base64."""
    return base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
                            .encode()).decode()


def _proxy_for(parts: SplitResult) -> SplitResult | None:
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    found = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return found if found.hostname else None


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The deadline passed: shut the socket down so the blocked connect/send/read returns."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:  # the plain socket's shutdown (an SSLSocket's own would touch its TLS state)
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def _describe(exc: BaseException) -> str:
    """What went wrong, without the exception's text where it can quote the URL or its path."""
    name = type(exc).__name__
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"{name}: timed out"
    if isinstance(exc, http.client.InvalidURL):
        return f"{name}: the URL is not valid (check the setting)"
    if isinstance(exc, http.client.HTTPException):
        return f"{name}: the answer is not valid HTTP"
    if isinstance(exc, ssl.SSLError):
        return f"{name}: {exc.reason or 'TLS failed'}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"
    return name


def _url_parts(url: str) -> list[str]:
    """The pieces of a URL that are secret on their own: a webhook's path is its token, and so
    is a query value (``?token=…``, ``?code=…``: a receiver refusing it says "unknown token
    <value>"); each as written and percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    pieces = [parts.path, parts.query, parts.netloc if "@" in parts.netloc else ""]
    pieces += [seg for seg in parts.path.split("/") if len(seg) >= MIN_SECRET_PART]
    values = [pair.partition("=")[2] for pair in parts.query.split("&")]
    pieces += [v for v in values if len(v) >= MIN_SECRET_PART]
    if "@" in parts.netloc:  # its password, and the Basic credentials made of it
        pieces += [parts.password or "", _basic(parts)]
    pieces += [unquote(p) for p in pieces] + [unquote_plus(p) for p in pieces]
    return [p for p in dict.fromkeys(pieces) if p and p != "/"]


def _scrub_tail(text: str, secrets: Sequence[str]) -> str:
    """``text`` without a secret's beginning at its very end (where the read stopped)."""
    for secret in secrets:
        for n in range(min(len(secret) - 1, len(text)), MIN_SECRET_TAIL - 1, -1):
            if text.endswith(secret[:n]):
                return text[:-n] + "****"
    return text


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, mask(secret))
    return text
