"""A Jupyter kernel manager whose kernels start inside the sandbox."""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager

from grader.sandbox.policy import KernelLaunch


class SandboxedKernelManager(AsyncKernelManager):
    """Launches `launch`'s wrapped kernel command; everything else is Jupyter's usual kernel manager."""

    def __init__(self, launch: KernelLaunch, **kwargs):
        super().__init__(**kwargs)
        self.launch = launch

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        return self.launch.wrap(super().format_kernel_cmd(extra_arguments), self.connection_file)

    @property
    def kernel_spec(self):
        # SIGINT sent from outside would reach bubblewrap, not the kernel inside it: ask the kernel to
        # interrupt itself over its control channel instead.
        spec = super().kernel_spec
        if spec is not None and self.launch.sandbox.enforced:
            spec.interrupt_mode = "message"
        return spec
