"""A Jupyter kernel manager whose kernels start inside the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from grader.sandbox.policy import KernelLaunch


class SandboxedKernelManager(AsyncKernelManager):
    """Launches `launch`'s wrapped kernel command; everything else is Jupyter's usual kernel
    manager."""

    def __init__(self, launch: KernelLaunch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.launch = launch

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.launch.wrap(super().format_kernel_cmd(extra_arguments), self.connection_file)

    @property
    def kernel_spec(self) -> KernelSpec | None:
        # SIGINT sent from outside would reach bubblewrap, not the kernel inside it: ask the kernel
        # to interrupt itself over its control channel instead.
        spec = super().kernel_spec
        if spec is not None and self.launch.sandbox.enforced:
            spec.interrupt_mode = "message"
        return spec


def sandboxed_kernel_manager(launch: KernelLaunch, sockets: Path) -> SandboxedKernelManager:
    """A kernel manager for `launch`; its sockets are files in `sockets`.

    Files in a private folder rather than TCP ports on localhost: no other local process can connect
    to a student's kernel (and a network namespace does not matter).
    """
    km = SandboxedKernelManager(launch, kernel_name="python3")
    km.transport, km.ip = "ipc", str(sockets / "kernel")
    km.connection_file = str(sockets / "kernel.json")
    return km
