"""Helpers for the browser tests: where chromium is, the test password, logging in, screenshots."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "correct horse battery"
# Screenshots of each flow are kept as test artifacts, to be looked at (SCREENSHOT_DIR moves them).
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "test-artifacts/screenshots"))
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                       "(apt-get install chromium); .ci/run installs it"),
]


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of `page` as <SHOTS>/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / (re.sub(r"[^a-z0-9_-]+", "-", name.lower()) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, base, email):
    """Log in through the login page as `email` (made with PASSWORD) and land on the property list."""
    page.goto(f"{base}/properties/")
    assert "/login" in page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/properties/")
