"""Celery worker: a thin shell that calls the grading services."""
