"""Attack suite, kernel side: namespaces, mounts, tracing and other kernel interfaces are refused;
the CPU is shared fairly; shared memory works, so joblib and multiprocessing run in parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyseccomp
import pytest
from engine.conftest import scores
from engine.mini_package import build

from grader.engine.assignment import load_assignment
from grader.sandbox import SandboxLimits
from sandbox.conftest import FULL, grade, last_cell_text, with_attack

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

SYSCALLS = (
    "clone",
    "clone3",
    "setns",
    "keyctl",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "perf_event_open",
    "process_vm_readv",
    "ptrace",
)
NUMBERS = {name: pyseccomp.resolve_syscall(pyseccomp.system_arch(), name) for name in SYSCALLS}
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x00020000, 0x10000000, 0x40000000, 17

# Each attempt runs in a child process (a successful escape must not change the kernel the answers
# ran in) and prints what stopped it: an errno name, or "allowed".
ESCAPES = f"""
import ctypes, errno, json, os, shutil, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
NR = {NUMBERS!r}

def attempt(action):
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if action() != -1 else ctypes.get_errno())
        finally:
            os._exit(255)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "allowed" if code == 0 else errno.errorcode.get(code, str(code))

def clone(flags):
    child = libc.syscall(NR["clone"], flags | {SIGCHLD}, 0, 0, 0, 0)
    if child == 0:
        os._exit(0)
    return child

def ptrace_attach():
    target = os.fork()
    if target == 0:
        time.sleep(30)
        os._exit(0)
    result = libc.syscall(NR["ptrace"], 16, target, 0, 0)
    os.kill(target, 9)
    return result

def command(*args):
    if shutil.which(args[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=2)
    except subprocess.TimeoutExpired:
        return "allowed"  # strace attached, and kept tracing
    return "allowed" if done.returncode == 0 else "refused: " + done.stderr

buffer = ctypes.create_string_buffer(256)
found = {{
    "unshare a user namespace": attempt(lambda: libc.unshare({CLONE_NEWUSER})),
    "unshare a user and a mount namespace": attempt(\
lambda: libc.unshare({CLONE_NEWUSER | CLONE_NEWNS})),
    "clone into a user namespace": attempt(lambda: clone({CLONE_NEWUSER})),
    "clone into a network namespace": attempt(lambda: clone({CLONE_NEWNET})),
    "clone3": attempt(lambda: libc.syscall(NR["clone3"], buffer, 88)),
    "setns": attempt(lambda: libc.syscall(NR["setns"], -1, 0)),
    "mount a tmpfs": attempt(lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "ptrace attach": attempt(ptrace_attach),
    "keyctl": attempt(lambda: libc.syscall(NR["keyctl"], 0, -3, 1)),
    "bpf": attempt(lambda: libc.syscall(NR["bpf"], 0, buffer, 72)),
    "userfaultfd": attempt(lambda: libc.syscall(NR["userfaultfd"], 1)),
    "io_uring_setup": attempt(lambda: libc.syscall(NR["io_uring_setup"], 1, buffer)),
    "perf_event_open": attempt(lambda: libc.syscall(NR["perf_event_open"], None, 0, -1, -1, 0)),
    "process_vm_readv": attempt(lambda: libc.syscall(NR["process_vm_readv"], os.getppid(), \
None, 0, None, 0,
                                                     0)),
    "unshare -Ur": command("unshare", "-Ur", "true"),
    "mount -t tmpfs": command("mount", "-t", "tmpfs", "none", "/tmp"),
    "strace -p": command("strace", "-p", str(os.getppid())),
}}
print(json.dumps(found))
"""
COMMANDS = {
    "unshare -Ur": "Operation not permitted",
    "mount -t tmpfs": "must be superuser",
    "strace -p": "Operation not permitted",
}


@pytest.fixture(scope="module")
def normal_package(tmp_path_factory):
    """The mini package with its usual limits, for notebooks that start worker processes or share
    the CPU."""
    return load_assignment(build(tmp_path_factory.mktemp("normal") / "package"))


@pytest.fixture(scope="module")
def escapes(attack_package, sandbox):
    result = grade(sandbox, attack_package, with_attack(ESCAPES))
    assert scores(result.report) == FULL
    return json.loads(last_cell_text(result).strip().splitlines()[-1])


@pytest.mark.parametrize(
    "attack",
    [
        "unshare a user namespace",
        "unshare a user and a mount namespace",
        "clone into a user namespace",
        "clone into a network namespace",
        "clone3",
        "setns",
        "mount a tmpfs",
        "ptrace attach",
        "keyctl",
        "bpf",
        "userfaultfd",
        "io_uring_setup",
        "perf_event_open",
        "process_vm_readv",
        "unshare -Ur",
        "mount -t tmpfs",
        "strace -p",
    ],
)
def test_kernel_escape_is_refused(escapes, attack):
    if escapes[attack] == "not installed":
        pytest.skip(f"{attack.split()[0]} is not installed here")
    if attack in COMMANDS:
        assert escapes[attack].startswith("refused") and COMMANDS[attack] in escapes[attack]
    else:
        # clone3 is "not implemented" so that libc falls back to clone, whose flags the filter can
        # read.
        assert escapes[attack] == ("ENOSYS" if attack == "clone3" else "EPERM")


def test_threads_and_processes_still_work(attack_package, sandbox):
    source = (
        "import threading, os\nt = threading.Thread(target=print, args=('thread ran',))\n"
        "t.start(); t.join()\npid = os.fork()\nif pid == 0:\n    os._exit(7)\n"
        "print('child exited', os.waitpid(pid, 0)[1] >> 8)"
    )
    result = grade(sandbox, attack_package, with_attack(source))
    assert "thread ran" in last_cell_text(result) and "child exited 7" in last_cell_text(result)


def test_joblib_and_multiprocessing_run_in_parallel(normal_package, sandbox):
    source = (
        "import os\nfrom multiprocessing import Pool\nfrom joblib import Parallel, delayed\n"
        "kernel = os.getpid()\n"
        "workers = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(8)))\n"
        "print('joblib workers', len(workers - {kernel}) > 0)\n"
        "with Pool(2) as pool:\n    print('pool', pool.map(abs, [-1, -2, -3]))\n"
        "print('shm', os.statvfs('/dev/shm').f_blocks > 0)"
    )
    result = grade(sandbox, normal_package, with_attack(source))
    printed = last_cell_text(result)
    assert (
        "joblib workers True" in printed and "pool [1, 2, 3]" in printed and "shm True" in printed
    )
    every_output = json.dumps([cell.get("outputs", []) for cell in result.executed.cells])
    assert "serial mode" not in every_output and "Permission denied" not in every_output
    assert scores(result.report) == FULL


HOG = """
import json, os, resource, sys, time
stop = sys.argv[1]
started = time.monotonic()
for _ in range(int(sys.argv[2])):
    if os.fork() == 0:
        while not os.path.exists(stop):
            for _ in range(200000):
                pass
        os._exit(0)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime, "wall": time.monotonic() - started}))
"""


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2, reason="a one-CPU quota only shows on a machine with more"
)
def test_cpu_hog_is_held_to_its_quota_and_a_normal_notebook_still_gets_full_marks(
    normal_package, sandbox
):
    limits = SandboxLimits(threads=1, processes=64, memory_mb=512)
    hog_processes = 2 * (os.cpu_count() or 2)
    with (
        tempfile.TemporaryDirectory() as home,
        tempfile.TemporaryDirectory() as shared,
        sandbox.kernel(limits, Path(home), Path(shared), {"PATH": "/usr/bin:/bin"}) as launch,
    ):
        stop = Path(shared) / "stop"
        hog = subprocess.Popen(
            launch.wrap([sys.executable, "-c", HOG, str(stop), str(hog_processes)]),
            cwd=home,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(2)  # the hog is spinning before the normal notebook starts
            result = grade(
                sandbox, normal_package, with_attack("x = 1")
            )  # fails if it takes longer than its limits
        finally:
            stop.touch()
            output, _ = hog.communicate(timeout=60)
        quota = launch.cgroup.cpu_quota()
    assert scores(result.report) == FULL
    assert quota == limits.threads
    # On a busy machine the hog may get less than its CPU; it never gets more.
    used = json.loads(output.strip().splitlines()[-1])
    assert used["cpu"] / used["wall"] < limits.threads * 1.2, "the hog used at most its one CPU"
