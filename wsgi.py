"""WSGI entry point: `gunicorn wsgi:app` (and `flask --app wsgi ...`)."""
from console import create_app
from jobs.embedded_redis import exit_on_sigterm

app = create_app()
if not app.config.get("REDIS_URL"):
    # A lone `flask run` starts the embedded Redis from a request thread, where no signal handler
    # can be set: set it here, in the main thread, so SIGTERM still stops that server on the way
    # out. Servers and workers with handlers of their own (gunicorn, RQ) are left alone.
    exit_on_sigterm()
