"""`make run` itself, as a newcomer runs it: the printed login works, Ctrl-C leaves nothing behind."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import psutil
import pytest

from jobs import embedded_redis
from tests.test_processes import ROOT, _env, _free_port, _Output, _servers_on

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _log_in(base: str, email: str, password: str) -> str:
    """Log in through the real form (CSRF included); the property list page it lands on."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = opener.open(f"{base}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    opener.open(f"{base}/login", data=data.encode(), timeout=30).read()
    return opener.open(f"{base}/properties/", timeout=30).read().decode()


def test_make_run_serves_the_demo_the_printed_login_works_and_ctrl_c_stops_all(tmp_path):
    port = _free_port()
    env = _env(tmp_path, PORT=str(port))
    for name in ("DEMO_FEEDS", "FETCH_ALLOW_HOSTS", "PUBLIC_BASE_URL", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    out = _Output(proc)
    family: list[psutil.Process] = []
    try:
        banner = out.wait_for(lambda line: line.startswith("console: http://"), timeout=180)
        assert f"http://127.0.0.1:{port}" in banner
        login = out.wait_for(lambda line: "demo admin login:" in line, timeout=30)
        email, password = re.search(r"login: (\S+) / (\S+)", login).groups()
        page = _log_in(f"http://127.0.0.1:{port}", email, password)
        assert 'id="properties"' in page and page.count("<tr") > 10  # a dozen demo properties
        manager = out.wait_for(lambda line: "demo manager login (viewer):" in line, timeout=30)
        assert 'id="properties"' in _log_in(f"http://127.0.0.1:{port}",
                                            *re.search(r"\): (\S+) / (\S+)", manager).groups())
        sock = embedded_redis.socket_path(str(tmp_path))
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True),
                  *_servers_on(sock)]
        assert len(_servers_on(sock)) == 1
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the foreground group
        proc.wait(timeout=60)
        out.wait_for(lambda line: line.startswith("console: stopped"), timeout=10)
        psutil.wait_procs(family, timeout=10)
        assert [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
        assert _servers_on(sock) == []
    finally:  # whatever failed above, nothing of this run may outlive the test
        for leftover in [p for p in family if p.is_running()]:
            leftover.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
