"""Use cases between the web app or the worker and the database; they never see a Flask request."""
