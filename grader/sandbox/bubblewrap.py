"""The bubblewrap command line that isolates one kernel.

Inside: a new root with read-only system and Python folders, no network (a private network
namespace has only loopback), its own PID namespace (killing the sandbox kills everything the
notebook started, detached or not), a size-capped writable home, `/tmp` and `/dev/shm`, an
unprivileged user in a user namespace that cannot create further namespaces, and a seccomp filter.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from grader.sandbox.limits import SandboxLimits

SANDBOX_UID = 65534  # nobody: owns nothing on the host
HOME = "/home/student"
SYSTEM_DIRS = ("/usr", "/etc")
MERGED_USR_LINKS = {
    "/bin": "usr/bin",
    "/sbin": "usr/sbin",
    "/lib": "usr/lib",
    "/lib64": "usr/lib64",
}
SECCOMP_FD = (
    3  # bubblewrap reads the compiled filter from this descriptor, which the launcher opens
)


def python_dirs() -> list[str]:
    """Folders the kernel's Python needs: the interpreter's installation and the virtual
    environment."""
    dirs = {str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix))}
    return sorted(d for d in dirs if not d.startswith(SYSTEM_DIRS))


def _readonly_bind(path: str) -> list[str]:
    # bwrap creates missing parents as 0700 root, which the unprivileged user could not traverse.
    args = []
    for parent in reversed(Path(path).parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", path, path]


def bwrap_command(
    kernel_cmd: list[str],
    *,
    limits: SandboxLimits,
    readonly_entries: Path,
    shared_dir: Path,
    env: dict[str, str],
    cgroup_procs: list[str],
    seccomp_file: Path,
    library_dirs: tuple[Path, ...] = (),
) -> list[str]:
    """Wrap `kernel_cmd` so it runs sandboxed; `readonly_entries`' contents appear read-only in the
    home, and `library_dirs` (an assignment's own packages) read-only at their own paths."""
    args = [
        "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    for directory in SYSTEM_DIRS:
        args += ["--ro-bind", directory, directory]
    for link, target in MERGED_USR_LINKS.items():
        if Path(link).is_symlink():
            args += ["--symlink", target, link]
        elif Path(link).exists():
            args += ["--ro-bind", link, link]
    # The home, /tmp and /dev/shm are the only writable places, each capped at the scratch size
    # (libraries such as matplotlib and tempfile expect a writable /tmp; multiprocessing's and
    # joblib's semaphores and shared arrays live in /dev/shm).
    scratch_bytes = str(limits.scratch_mb * 1024 * 1024)
    args += ["--proc", "/proc", "--dev", "/dev"]
    for directory in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", "--size", scratch_bytes, "--tmpfs", directory]
    for directory in [*python_dirs(), *map(str, library_dirs)]:
        args += _readonly_bind(directory)
    args += ["--perms", "1777", "--size", scratch_bytes, "--tmpfs", HOME]
    for entry in sorted(readonly_entries.iterdir()):
        args += ["--ro-bind", str(entry), f"{HOME}/{entry.name}"]
    args += ["--bind", str(shared_dir), str(shared_dir), "--chdir", HOME, "--clearenv"]
    for name, value in {**env, "HOME": HOME}.items():
        args += ["--setenv", name, value]
    drop_privileges = [
        "setpriv",
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
    # A second bubblewrap, started as the unprivileged user, moves the kernel into a user namespace
    # of its own whose further use is disabled, then loads the seccomp filter just before exec. (The
    # outer one runs as root, and a root bubblewrap's --unshare-user would map the sandbox user to
    # the host's root.) It keeps the outer view as it is: --dev-bind, since a plain bind would make
    # /dev/null unusable.
    lock_in = [
        "bwrap",
        "--unshare-user",
        "--disable-userns",
        "--assert-userns-disabled",
        "--dev-bind",
        "/",
        "/",
        "--die-with-parent",
        "--seccomp",
        str(SECCOMP_FD),
        "--",
    ]
    rlimits = [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--nofile={limits.open_files}",
        f"--fsize={limits.max_file_mb * 1024 * 1024}",
        "--core=0",
        "--",
    ]
    sandboxed = args + ["--"] + drop_privileges + lock_in + rlimits + kernel_cmd
    # The launcher joins the kernel's cgroups before exec'ing bubblewrap, so every process inside is
    # counted.
    join = "".join(f"echo $$ > {shlex.quote(path)} && " for path in cgroup_procs)
    seccomp = f"{SECCOMP_FD}< {shlex.quote(str(seccomp_file))}"
    return ["/bin/sh", "-c", f'{join}exec "$@" {seccomp}', "sandbox"] + sandboxed
