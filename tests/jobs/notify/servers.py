"""Real receivers on loopback: an SMTP server (aiosmtpd) and a JSON webhook receiver that checks HMAC."""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from werkzeug import Request, Response

from jobs.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def free_port() -> int:
    """A loopback port nobody listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every accepted message; `hold_rcpt` stalls a sender mid-conversation."""

    def __init__(self):
        self.messages, self.hold_rcpt = [], False
        self.seen, self.release = threading.Event(), threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.hold_rcpt:
            self.seen.set()
            import asyncio
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]


class SmtpServer:
    """A real SMTP server on 127.0.0.1:port."""

    def __init__(self, port: int | None = None, inbox: Inbox | None = None):
        self.port, self.inbox = port or free_port(), inbox or Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.url = f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.inbox.release.set()
        self.controller.stop()


class WebhookReceiver:
    """A JSON webhook receiver on pytest-httpserver: accepts only correctly signed, recent bodies."""

    def __init__(self, httpserver, path: str, secret: str | None):
        self.secret, self.accepted, self.refused = secret, [], 0
        httpserver.expect_request(path, method="POST").respond_with_handler(self.answer)
        self.url = httpserver.url_for(path)

    def answer(self, request: Request) -> Response:
        body = request.get_data()
        if self.secret is not None and not verify(self.secret, request.headers.get(TIMESTAMP_HEADER),
                                                  body, request.headers.get(SIGNATURE_HEADER)):
            self.refused += 1
            return Response("bad signature", 401)
        self.accepted.append({"headers": dict(request.headers), "body": json.loads(body)})
        return Response("ok", 200)

    def kinds(self) -> list[str]:
        return [item["body"]["kind"] for item in self.accepted]
