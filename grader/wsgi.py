"""WSGI entry point for production servers: `gunicorn grader.wsgi:app`."""

import atexit
import os

from grader import metrics
from grader.config import Settings
from grader.logs import configure_logging
from grader.web import create_web_app
from grader.web.readiness import warm_up

configure_logging()
settings = Settings.from_env()
# An exception, not an exit: gunicorn then stops ("Worker failed to boot") rather than restart the
# worker forever.
settings.require_production_secret()
# gunicorn's master forks every web process: the folder is the master's, so /metrics sums them all.
metrics.use_folder("web", settings.instance_dir, owner_pid=os.getppid())
atexit.register(metrics.process_exited)
app = create_web_app(settings)
# Each gunicorn process builds its own app: it is ready for uploads before it takes the first.
warm_up(app)
