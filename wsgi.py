"""WSGI entry point: `gunicorn wsgi:app`."""
from console import create_app

app = create_app()
