"""The folder where every process of a service writes its metrics, so that one scrape sums them."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# prometheus_client's own setting: when set, metrics live in files in this folder (multiprocess
# mode).
FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Names the process that filled the folder; the next service start finds another and empties it.
OWNER_FILE = "owner"


def use_folder(role: str, instance_dir: Path, owner_pid: int) -> Path:
    """Make this process, and the processes it starts, write their metrics to one folder; return it.

    `PROMETHEUS_MULTIPROC_DIR` wins when set and is used as it is: the operator owns it (a volume
    emptied per container start), or `grader serve` set it for its worker. Otherwise the folder is
    `metrics/<role>` in the instance folder, emptied when its owner changes: `owner_pid` is the
    process whose children share the folder (gunicorn's master, Celery's main process), so a web
    process that gunicorn restarts keeps its siblings' counts, and a new service starts from zero.
    """
    explicit = os.environ.get(FOLDER_VARIABLE)
    folder = Path(explicit) if explicit else instance_dir / "metrics" / role
    folder.mkdir(parents=True, exist_ok=True)
    if not explicit:
        _empty_for_new_owner(folder, _identity(owner_pid))
    os.environ[FOLDER_VARIABLE] = str(folder)
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        log.warning(
            "prometheus_client was imported before its folder was chosen: this process's metrics "
            "stay in its own memory and no scrape sees them"
        )
    return folder


def multiprocess_folder() -> Path | None:
    """The folder this service's processes write their metrics to, if they share one."""
    folder = os.environ.get(FOLDER_VARIABLE)
    return Path(folder) if folder else None


def process_exited(pid: int | None = None) -> None:
    """Tell the folder that process `pid` (default: this one) is gone: its counts stay counted."""
    folder = multiprocess_folder()
    if folder is not None:
        from prometheus_client import multiprocess  # on first use: see grader.metrics

        multiprocess.mark_process_dead(os.getpid() if pid is None else pid, str(folder))


def _empty_for_new_owner(folder: Path, owner: str) -> None:
    # Every web process gunicorn starts comes here at once: the lock lets one of them empty it.
    with open(folder / OWNER_FILE, "a+") as owner_file:
        fcntl.flock(owner_file, fcntl.LOCK_EX)
        owner_file.seek(0)
        if owner_file.read() == owner:
            return
        for stale in folder.glob("*.db"):
            stale.unlink()
        owner_file.truncate(0)
        owner_file.write(owner)


def _identity(pid: int) -> str:
    """The process's id and start time: in a container the master is process 1 at every start."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux): the id alone
        return str(pid)
    # The command name (second field) may hold spaces; the start time is the 22nd field.
    start_ticks = stat.rpartition(")")[2].split()[19]
    return f"{pid} {start_ticks}"
