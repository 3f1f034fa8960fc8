"""Celery entry point (`celery -A worker.celery_app worker`): the Flask app's Celery, with our tasks."""
from grader.web import create_app

flask_app = create_app()
app = flask_app.extensions["celery"]
app.conf.imports = ("worker.tasks",)
