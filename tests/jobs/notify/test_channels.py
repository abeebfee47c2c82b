"""The channels against real servers on loopback: SMTP with STARTTLS and AUTH LOGIN, SMTP over TLS from the
start (smtps://), a certificate we do not trust, a Slack-compatible webhook; a burst worker sends due retries."""
from __future__ import annotations

import json
import shutil
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select
from werkzeug import Response

from console.extensions import db
from console.models import NotificationDelivery
from console.timeutil import utcnow
from jobs.sync.runner import sync_links
from jobs.worker import run_worker
from tests.jobs.notify.servers import Inbox, SmtpServer, free_port
from tests.jobs.notify.test_delivery import failing_feed

USER, PASSWORD = "alerts@only-apartments.com", "p@ss:word"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA and a server certificate for 127.0.0.1 signed by it (made here with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make the test certificates")
    folder = tmp_path_factory.mktemp("certs")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                    "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.pem", "-extfile", "ext.cnf")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "server.pem", folder / "server.key")
    return {"ca": str(folder / "ca.pem"), "server": server}


@pytest.fixture
def trusted(certs, monkeypatch):
    """Our client trusts the test CA (OpenSSL's standard SSL_CERT_FILE, read by create_default_context)."""
    monkeypatch.setenv("SSL_CERT_FILE", certs["ca"])


class Logins:
    """An aiosmtpd authenticator that accepts one user and records every attempt."""

    def __init__(self):
        self.attempts = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login, password, session.ssl is not None))
        # handled=False: aiosmtpd answers 535 itself when the login is refused
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)


def start(controller: Controller, request) -> Controller:
    controller.start()
    request.addfinalizer(controller.stop)
    return controller


def fail_three_times(httpserver, make_property, make_link):
    link = make_link(make_property("Casa Azul"), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    db.session.expire_all()
    return db.session.execute(select(NotificationDelivery)).scalars().all()


def login_url(scheme: str, port: int, password: str = PASSWORD) -> str:
    from urllib.parse import quote
    return f"{scheme}://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


def test_starttls_then_auth_login(app, certs, trusted, request, httpserver, make_property, make_link):
    inbox, logins, port = Inbox(), Logins(), free_port()
    start(Controller(inbox, hostname="127.0.0.1", port=port, tls_context=certs["server"], require_starttls=True,
                     authenticator=logins, auth_require_tls=True, auth_exclude_mechanism=["PLAIN"]), request)
    app.config.update(SMTP_URL=login_url("smtp", port), RQ_INLINE=True)
    [delivery] = fail_three_times(httpserver, make_property, make_link)
    assert delivery.state == "delivered", delivery.last_error
    # Logged in with AUTH LOGIN, only after STARTTLS (the server refuses both in the clear).
    assert logins.attempts == [("LOGIN", USER, PASSWORD, True)]
    assert inbox.subjects() == ["Failing: Casa Azul · Airbnb link: server_error"]


def test_a_refused_login_is_retried_not_sent(app, certs, trusted, request, httpserver, make_property, make_link):
    inbox, logins, port = Inbox(), Logins(), free_port()
    start(Controller(inbox, hostname="127.0.0.1", port=port, tls_context=certs["server"], require_starttls=True,
                     authenticator=logins, auth_exclude_mechanism=["PLAIN"]), request)
    app.config.update(SMTP_URL=login_url("smtp", port, "wrong"), RQ_INLINE=True, SMTP_TIMEOUT_SECONDS=5)
    [delivery] = fail_three_times(httpserver, make_property, make_link)
    assert delivery.state == "failed" and "refused our login" in delivery.last_error
    assert delivery.next_attempt_at > utcnow() and inbox.messages == [] and len(logins.attempts) == 1


def test_smtps_is_tls_from_the_first_byte(app, certs, trusted, request, httpserver, make_property, make_link):
    inbox, logins, port = Inbox(), Logins(), free_port()
    # Implicit TLS: the whole session is encrypted, so AUTH needs no STARTTLS.
    start(Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=certs["server"], authenticator=logins,
                     auth_require_tls=False), request)
    app.config.update(SMTP_URL=login_url("smtps", port), RQ_INLINE=True)
    [delivery] = fail_three_times(httpserver, make_property, make_link)
    assert delivery.state == "delivered", delivery.last_error
    assert [a[:3] for a in logins.attempts] == [(logins.attempts[0][0], USER, PASSWORD)]
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "property@only-apartments.com"


def test_a_certificate_we_do_not_trust_is_refused(app, certs, request, httpserver, make_property, make_link):
    inbox, port = Inbox(), free_port()
    start(Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=certs["server"]), request)
    app.config.update(SMTP_URL=f"smtps://127.0.0.1:{port}", RQ_INLINE=True)
    [delivery] = fail_three_times(httpserver, make_property, make_link)
    assert delivery.state == "failed" and "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert inbox.messages == []


def test_slack_webhook_gets_slacks_json_shape(app, httpserver, make_property, make_link):
    received = []

    def slack(request):  # what Slack's incoming webhooks accept: {"text": ...} as JSON, answered "ok"
        received.append((request.headers.get("Content-Type"), request.headers.get("Idempotency-Key"),
                         json.loads(request.get_data())))
        return Response("ok", 200, content_type="text/plain")
    httpserver.expect_request("/services/T000/B000/XXXX", method="POST").respond_with_handler(slack)
    app.config.update(ALERT_SLACK_WEBHOOK_URL=httpserver.url_for("/services/T000/B000/XXXX"), RQ_INLINE=True)
    deliveries = fail_three_times(httpserver, make_property, make_link)
    assert {d.channel: d.state for d in deliveries} == {"email": "kept", "slack": "delivered"}
    [(content_type, key, body)] = received
    assert content_type == "application/json" and key.startswith("csc-n")
    assert list(body) == ["text"]
    assert body["text"].startswith("*Failing: Casa Azul · Airbnb link: server_error*\n")
    assert "What to do:" in body["text"] and "sellable nights" in body["text"]


def test_a_burst_worker_sends_retries_that_are_due(app, httpserver, make_property, make_link):
    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    link = make_link(make_property("Casa Azul"), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])  # the 3rd queues the delivery on the alerts queue
    run_worker(app, burst=True)  # nobody listens on the SMTP port yet
    delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
    db.session.refresh(delivery)
    assert delivery.state == "failed" and delivery.attempts == 1
    with SmtpServer(port) as smtp:
        run_worker(app, burst=True)  # its backoff has not ended: not sent yet
        assert smtp.inbox.messages == []
        delivery.next_attempt_at = utcnow()  # the backoff ended (the stored time moved, not the test's sleep)
        db.session.commit()
        run_worker(app, burst=True)  # no scheduler tick in between
        assert len(smtp.inbox.messages) == 1
    db.session.refresh(delivery)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
