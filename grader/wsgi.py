"""WSGI entry point for production servers: `gunicorn grader.wsgi:app`."""
from grader.logs import configure_logging
from grader.web import create_app

configure_logging()
app = create_app()
