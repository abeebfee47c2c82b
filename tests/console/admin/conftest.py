"""Browser fixtures shared by every browser test: the live app over HTTP, one Chromium, a strict page."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.console.admin.browsing import CHROMIUM


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free loopback port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (the system's browser: nothing is downloaded)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context (no cookies shared between tests)."""
    context = browser.new_context()
    # Anything the page loads from another host fails the test: the console works offline.
    foreign, refused, errors = [], [], []
    context.on("request", lambda req: foreign.append(req.url)
               if not req.url.startswith(("http://127.0.0.1", "data:")) else None)
    tab = context.new_page()
    # Whatever the Content-Security-Policy blocks, and any script error, fails the test too.
    tab.on("console", lambda msg: refused.append(msg.text)
           if "Content Security Policy" in msg.text else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert foreign == [] and refused == [] and errors == []
