"""Use cases between the web app or the worker and the database; they never see a Flask request.

One sub-package per domain (assignments, submissions, grading, staff, people, storage);
`permissions` holds every role check, `errors` every exception a service raises (the web maps them
to HTTP in one place), `notebooks` checks an uploaded notebook before anything is stored, and
`paging` cuts long lists into pages.
"""
