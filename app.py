"""WSGI and CLI entry point: `flask --app app ...`, `gunicorn app:app`."""

from onboarding import create_app

app = create_app()
