"""What every response carries and how sessions are kept: security headers with a CSP the console's
own pages and plotly satisfy (no inline scripts), cookies that are SameSite and Secure over https."""
from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# Styles may be inline (plotly writes them, Bootstrap pages use style attributes); scripts never.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]
                    or (has_request_context() and request.is_secure))


def register_security(app: Flask) -> None:
    """Headers on every response, https seen through the proxy, hardened session cookies."""
    app.session_interface = ConsoleSessionInterface()
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # X-Forwarded-Proto says whether the client used https (the proxy terminates TLS); client
    # addresses are read from X-Forwarded-For only for as many proxies as are trusted.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_for=app.config["TRUSTED_PROXY_HOPS"])

    @app.after_request
    def secure_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
