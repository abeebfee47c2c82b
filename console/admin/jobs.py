"""The Jobs page: rq-dashboard mounted at /jobs on our Redis, behind our login, the staff role and a
same-origin check on its POSTs, with the script policy it needs on its URLs only."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, redirect, render_template, request, url_for
from flask_admin import Admin
from flask_admin.menu import MenuLink
from flask_login import current_user

from console.extensions import csrf
from console.security import CSP
from jobs import embedded_redis
from jobs.broker import QueueUnavailable, redis_connection

JOBS_URL = "/jobs"
DASHBOARD = "rq_dashboard"
# rq-dashboard writes its page scripts inline and compiles underscore templates (eval): allowed on
# its own URLs and nowhere else; everything it loads still comes from this app ('self').
JOBS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline' 'unsafe-eval'")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class JobsMenuLink(MenuLink):
    """The "Jobs" menu entry, shown to staff only."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.can("staff")


def dashboard_redis_url(app: Flask) -> str:
    """The plain Redis address the app uses: REDIS_URL, or the embedded server's unix socket."""
    return app.config.get("REDIS_URL") or \
        f"unix://{embedded_redis.socket_path(app.config['INSTANCE_PATH'])}"


def same_origin() -> bool:
    """The request came from a page of this console (Origin, else Referer, names our host)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == request.host_url.rstrip("/")


def mount_jobs_dashboard(app: Flask, admin: Admin) -> None:
    """Register rq-dashboard under /jobs for this app and add its staff-only menu entry."""
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection
    app.config["RQ_DASHBOARD_REDIS_URL"] = [dashboard_redis_url(app)]
    setup_rq_connection(app)  # builds a client object; nothing connects until a request
    # Its actions are jQuery POSTs that cannot carry our CSRF token: the staff login, SameSite
    # cookies and the same-origin check below stand in for it.
    csrf.exempt(rq_dashboard.blueprint)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=JOBS_URL)
    admin.add_menu_item(JobsMenuLink(name="Jobs", endpoint=f"{DASHBOARD}.queues_overview"))

    @app.before_request
    def jobs_dashboard_guard():
        if request.blueprint != DASHBOARD:
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not current_user.can("staff"):
            abort(403)
        if request.method not in SAFE_METHODS and not same_origin():
            abort(403)
        if request.endpoint == f"{DASHBOARD}.requeue_all" and request.method in SAFE_METHODS:
            abort(405)  # it requeues on GET too: a link must never change the queue
        try:
            redis_connection(app)  # starts the embedded server when this process has not yet
        except QueueUnavailable as exc:
            return render_template("errors/fault.html", code="queue_unavailable",
                                   title="The job queue is not answering", message=str(exc),
                                   advice="Try again in a minute; /healthz shows the state."), 503
        return None

    @app.after_request
    def jobs_dashboard_policy(response):
        if request.blueprint == DASHBOARD:
            response.headers["Content-Security-Policy"] = JOBS_CSP
        return response
