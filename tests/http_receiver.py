"""A real HTTP receiver on 127.0.0.1 for webhook and alert tests: records every POST and answers
with the status the test chooses (fixed per path, or failing the next N posts)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the dispatcher posts a batch at once; 5 (the default) refuses some
    daemon_threads = True


class Receiver:
    def __init__(self, default_status=lambda path: 204):
        self.codes: dict[str, int] = {}          # path -> status answered from now on
        self.fail_next: dict[str, int] = {}      # path -> how many next POSTs fail
        self.fail_status = 500
        self.fail_headers: dict[str, str] = {}
        # path -> (most body bytes taken, status answered to a larger body), as real services
        # do (PagerDuty: 400 over 512,000 bytes; a web server's body limit: 413)
        self.body_limits: dict[str, tuple[int, int]] = {}
        self.requests: list[dict] = []           # path, status, body, headers, json, at
        # path -> an event: the next POST to it is recorded, then answered only once it is set
        # (a receiver that hangs, deterministically; the test sets it to let the answer go)
        self.hold: dict[str, threading.Event] = {}
        # path -> seconds every answer to it takes (a slow service that still answers in time)
        self.delays: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    failing = receiver.fail_next.get(self.path, 0)
                    if failing:
                        receiver.fail_next[self.path] = failing - 1
                    status = receiver.fail_status if failing else receiver.codes.get(
                        self.path, default_status(self.path))
                    most, refused = receiver.body_limits.get(self.path, (len(body), status))
                    if len(body) > most:
                        status = refused
                    receiver.requests.append({"path": self.path, "status": status, "body": body,
                                              "headers": dict(self.headers),
                                              "json": _json_or_none(body),
                                              "at": time.monotonic()})
                    gate = receiver.hold.pop(self.path, None)
                    delay = receiver.delays.get(self.path, 0.0)
                if gate is not None:
                    gate.wait(60)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in (receiver.fail_headers.items() if failing else ()):
                        self.send_header(name, value)
                    payload = b"ok" if status == 200 else b""
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender is gone (gave up, or was killed while it was held)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return self.url

    @property
    def posts(self) -> list[dict]:
        return self.requests

    def delivered(self, path: str) -> list[dict]:
        with self.lock:
            return [p["json"] for p in self.requests if p["path"] == path and p["status"] < 300]

    def count(self, path: str) -> int:
        """POSTs to ``path`` so far, answered or not (a held one counts once it has arrived)."""
        with self.lock:
            return sum(1 for p in self.requests if p["path"] == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json_or_none(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None
