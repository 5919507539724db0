"""A real reverse proxy on 127.0.0.1 in front of the admin API, as nginx or a load balancer
stands in front of a real one: it forwards each request and passes the answer back, but when the
API does not answer within ``upstream_timeout`` it answers ``504 Gateway Time-out`` with an HTML
page (nginx's proxy_read_timeout) — while the API goes on and may still do the action."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx

GATEWAY_TIMEOUT_PAGE = (b"<html><head><title>504 Gateway Time-out</title></head><body>"
                        b"<center><h1>504 Gateway Time-out</h1></center></body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def gateway(upstream: str, upstream_timeout: float) -> Iterator[str]:
    """Serve the proxy; yields its base URL."""
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}
            try:
                answer = httpx.request(self.command, upstream + self.path, content=body,
                                       headers=headers, timeout=upstream_timeout)
                status, payload = answer.status_code, answer.content
                kind = answer.headers.get("content-type", "application/json")
            except httpx.TimeoutException:
                status, payload, kind = 504, GATEWAY_TIMEOUT_PAGE, "text/html"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _forward  # noqa: N815 - http.server's naming

        def log_message(self, *args) -> None:  # quiet
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
