"""The seccomp filter every sandboxed process runs under: kernel interfaces a notebook never needs.

Each of these is a common first step of a kernel privilege escalation (new namespaces with a full
capability set, mounts, keyrings, eBPF, userfaultfd and io_uring races, tracing another process,
loading kernel code). Everything else is allowed: threads, fork, multiprocessing and TensorFlow
work.
"""

from __future__ import annotations

import errno
import tempfile
from functools import lru_cache

DENIED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "mount_setattr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
)
# CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
# CLONE_NEWNET.
NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)


class SeccompUnavailable(RuntimeError):
    """libseccomp (or its Python binding) is missing, or cannot express the filter on this
    machine."""


@lru_cache(maxsize=1)
def filter_program() -> bytes:
    """The compiled BPF program that bubblewrap loads (`--seccomp FD`) just before the kernel
    starts."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: the binding loads libseccomp.so when imported
        raise SeccompUnavailable(
            f"libseccomp is not available ({exc}): install libseccomp2 and pyseccomp"
        ) from exc
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    try:
        for name in DENIED:
            rules.add_rule(deny, name)
        # clone's flags are a plain argument, so only namespace-creating clones are refused; threads
        # pass.
        for flag in NAMESPACE_FLAGS:
            rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        # clone3 passes its flags in memory a filter cannot read: "not implemented" makes libc fall
        # back to clone, whose flags the rules above check.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as program:
            rules.export_bpf(program)
            program.seek(0)
            return program.read()
    except (OSError, ValueError, RuntimeError) as exc:
        raise SeccompUnavailable(f"cannot build the seccomp filter: {exc}") from exc
