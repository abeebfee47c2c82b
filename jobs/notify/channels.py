"""The three channels: e-mail over SMTP (STARTTLS / SSL, auth), a Slack-compatible incoming webhook and a
generic JSON webhook signed with HMAC-SHA256. Webhook addresses pass the calendar links' public-address rule."""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from jobs.fetch.addresses import AllowList, resolve_public
from jobs.fetch.session import default_session
from jobs.rules.stays import SyncFailure

SIGNATURE_HEADER, TIMESTAMP_HEADER, KEY_HEADER = "X-Signature", "X-Timestamp", "Idempotency-Key"


class DeliveryError(Exception):
    """A channel refused or could not be reached; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """What one delivery sends."""

    key: str          # idempotency key: Message-ID, Idempotency-Key
    subject: str
    text: str
    payload: dict     # the JSON webhook's body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": a receiver checks both, so an old body cannot be replayed."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
           tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def send_email(smtp_url: str, sender: str, to: str, message: Message, timeout: int) -> None:
    """Send one e-mail: smtp:// upgrades with STARTTLS when the server offers it, smtps:// is TLS at once."""
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise DeliveryError("SMTP_URL must be smtp://[user:pass@]host:port or smtps://...", permanent=True)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, message.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.key}@calendar-sync-console>"
    mail["X-Idempotency-Key"] = message.key
    mail.set_content(message.text)
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            server = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
        with server:
            server.ehlo()
            if parts.scheme == "smtp" and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if parts.username:
                server.login(unquote(parts.username), unquote(parts.password or ""))
            server.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"the mail server refused {to}: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"the mail server refused our login: {exc.smtp_code}", permanent=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"e-mail not sent: {exc!r}"[:500]) from exc


def _post(url: str, body: bytes, headers: dict[str, str], allow: AllowList, timeout: int) -> None:
    """POST to a public address only (checked as calendar links are), on the checked address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("a webhook address must be http:// or https://", permanent=True)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ip = resolve_public(parts.hostname, port, allow)[0]
    except SyncFailure as failure:
        raise DeliveryError(failure.message, permanent=failure.kind == "blocked_address") from failure
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool = default_session().pool(parts.scheme, parts.hostname, ip, port)
    try:
        response = pool.urlopen("POST", path, body=body, headers={**headers, "Host": host}, timeout=timeout,
                                redirect=False, retries=False, assert_same_host=False)
    except Exception as exc:  # noqa: BLE001 - urllib3 raises many kinds; each is a failed attempt
        raise DeliveryError(f"webhook not reached: {exc!r}"[:500]) from exc
    if response.status >= 300:
        permanent = 400 <= response.status < 500 and response.status not in (408, 409, 425, 429)
        raise DeliveryError(f"webhook answered HTTP {response.status}", permanent=permanent)


def post_slack(url: str, message: Message, allow: AllowList, timeout: int) -> None:
    """A Slack-compatible incoming webhook: {"text": ...}."""
    body = json.dumps({"text": f"*{message.subject}*\n{message.text}"}).encode()
    _post(url, body, {"Content-Type": "application/json", KEY_HEADER: message.key}, allow, timeout)


def post_webhook(url: str, secret: str | None, message: Message, allow: AllowList, timeout: int,
                 now: float | None = None) -> None:
    """The generic JSON webhook, signed (X-Signature over X-Timestamp and the body) when a secret is set."""
    body = json.dumps(message.payload, sort_keys=True).encode()
    stamp = str(int(now or time.time()))
    headers = {"Content-Type": "application/json", KEY_HEADER: message.key, TIMESTAMP_HEADER: stamp,
               "User-Agent": "CalendarSyncConsole-alerts/1.0"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
    _post(url, body, headers, allow, timeout)
