"""Threaded loopback feed servers for fresh-read tests: slow, failing, changing, counting requests."""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Feed:
    """One feed's current answer; the server counts and keeps the requests it got."""

    body: bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow provider)
    etag: bool = True
    requests: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)


class FeedServers:
    """Feeds at http://127.0.0.1:<port>/<name>.ics, each request answered in its own thread."""

    def __init__(self):
        self.feeds: dict[str, Feed] = {}
        servers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                feed = servers.feeds.get(self.path.lstrip("/").removesuffix(".ics"))
                if feed is None:
                    return self._send(404, b"", {})
                feed.requests.append(dict(self.headers.items()))
                if feed.delay:
                    time.sleep(feed.delay)  # the provider's own latency
                headers = {"Content-Type": "text/calendar; charset=utf-8"}
                if feed.etag and feed.status == 200:
                    headers["ETag"] = '"' + hashlib.sha1(feed.body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        return self._send(304, b"", headers)
                return self._send(feed.status, feed.body, headers)

            def _send(self, status, body, headers):
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, name: str, body: bytes = b"", **options) -> tuple[Feed, str]:
        """A new feed and its URL."""
        feed = self.feeds[name] = Feed(body=body, **options)
        return feed, f"http://127.0.0.1:{self.server.server_address[1]}/{name}.ics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed_servers():
    """Loopback feeds answered concurrently (slow ones do not hold up the others)."""
    servers = FeedServers()
    yield servers
    servers.close()
