"""WSGI entry point for production servers: `gunicorn grader.wsgi:app`."""
from grader.web import create_app

app = create_app()
