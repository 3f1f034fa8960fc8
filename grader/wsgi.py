"""WSGI entry point for production servers: `gunicorn grader.wsgi:app`."""

from grader.config import Settings
from grader.logs import configure_logging
from grader.web import create_web_app

configure_logging()
settings = Settings.from_env()
# An exception, not an exit: gunicorn then stops ("Worker failed to boot") rather than restart the
# worker forever.
settings.require_production_secret()
app = create_web_app(settings)
