"""This worker process's name in the database: host and pid, unique while it lives."""

import os
import socket


def worker_name() -> str:
    # Computed on each call: prefork children import this module in the parent,
    # before they get their pid.
    return f"{socket.gethostname()}:{os.getpid()}"
