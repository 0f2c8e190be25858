"""What Gunicorn loads: `gunicorn rq_scans.wsgi:app` (settings from the environment)."""

from .app import create_app

app = create_app()
