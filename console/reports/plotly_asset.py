"""plotly.js from the installed plotly package (no CDN), gzipped once per process and cached by browsers
for a year under a URL that names the version."""
from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

import plotly
from flask import Request, Response

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
VERSION = plotly.__version__  # the file changes only with the package, so its version names it
ONE_YEAR = 365 * 24 * 3600


@functools.cache
def _bodies() -> tuple[bytes, bytes, str]:
    """(plain, gzipped, etag): compressed once on first use, the bytes kept (about 1.4 MB gzipped)."""
    raw = PLOTLY_JS.read_bytes()
    # mtime=0: the same bytes in every process, so every worker sends one ETag.
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha256(raw).hexdigest()[:24]


def plotly_response(request: Request) -> Response:
    """plotly.min.js, gzipped when the browser accepts it, immutable for a year."""
    raw, packed, etag = _bodies()
    zipped = request.accept_encodings["gzip"] > 0
    resp = Response(packed if zipped else raw, mimetype="text/javascript")
    if zipped:
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"
    resp.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    resp.set_etag(etag + ("-gz" if zipped else ""))
    return resp.make_conditional(request)
