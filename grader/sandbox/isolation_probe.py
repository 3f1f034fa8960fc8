"""What a sandboxed process can do: run inside the sandbox (as `python -c`) by the worker's
self-check.

Standard library only, since it runs on the kernel's Python without the grader installed. Each
attack runs in a child process, so one that succeeds cannot change what the next one sees. Prints
one JSON line.
"""

import ctypes
import errno
import json
import multiprocessing
import os
import platform
import socket
import sys
import time
from collections.abc import Callable

CLONE_NEWNS, CLONE_NEWUSER, SIGCHLD = 0x00020000, 0x10000000, 17
PTRACE_ATTACH = 16
SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(platform.machine())
SYS_CLONE3 = 435  # the same number on every architecture
libc = ctypes.CDLL(None, use_errno=True)


def check(result: int) -> int:
    if result == -1:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result


def attempt(action: Callable[[], object]) -> str:
    """Run `action` in a child process: "allowed", or the name of the error that stopped it."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            action()
        except OSError as exc:
            code = exc.errno or 255
        os._exit(code)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "allowed" if code == 0 else errno.errorcode.get(code, str(code))


def new_user_namespace() -> None:
    check(libc.unshare(CLONE_NEWUSER))


def clone_into_user_namespace() -> None:
    if SYS_CLONE is None:
        raise OSError(errno.ENOTSUP, "unknown architecture")
    child = check(libc.syscall(SYS_CLONE, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)


def mount_tmpfs() -> None:
    # The attack: a user and mount namespace of one's own first, in which mounting is allowed. Never
    # mount without them: unsandboxed, as root, that would hide the host's /tmp.
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
    check(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))


def trace_a_process() -> None:
    target = os.fork()
    if target == 0:
        time.sleep(30)
        os._exit(0)
    try:
        check(libc.ptrace(PTRACE_ATTACH, target, None, None))
    finally:
        os.kill(target, 9)
        os.waitpid(target, 0)


def seccomp_mode() -> str:
    with open("/proc/self/status") as status_file:
        status = status_file.read()
    return status.split("Seccomp:")[1].split()[0] if "Seccomp:" in status else "0"


def shared_memory() -> None:
    path = f"/dev/shm/grader-probe-{os.getpid()}"
    with open(path, "wb") as scratch:
        scratch.write(b"x")
    os.unlink(path)
    multiprocessing.Lock()  # a POSIX semaphore, as joblib and multiprocessing make


def network() -> bool:
    probe = socket.socket()
    probe.settimeout(2)
    return probe.connect_ex(("1.1.1.1", 53)) == 0


def dns() -> bool:
    try:
        socket.getaddrinfo("example.com", 80)
        return True
    except OSError:
        return False


def main() -> None:
    found = {
        "uid": os.getuid(),
        "readable": [path for path in sys.argv[1:] if os.access(path, os.R_OK)],
        "network": network(),
        "dns": dns(),
        "user_namespace": attempt(new_user_namespace),
        "clone_user_namespace": attempt(clone_into_user_namespace),
        "mount": attempt(mount_tmpfs),
        "ptrace": attempt(trace_a_process),
        "seccomp_mode": seccomp_mode(),
        # Harmless calls that fail this way only under our filter: proof that the filter loaded is
        # ours.
        "unshare_nothing": attempt(lambda: check(libc.unshare(0))),
        "clone3": attempt(lambda: check(libc.syscall(SYS_CLONE3, None, 0))),
        "shared_memory": attempt(shared_memory),
    }
    print(json.dumps(found))


if __name__ == "__main__":
    main()
