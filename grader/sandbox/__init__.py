"""The sandbox: launches an isolated, limited kernel. It knows nothing of rubrics, grading or the
database."""

from grader.sandbox.limits import SandboxLimits
from grader.sandbox.policy import Sandbox, SandboxUnavailable, sandbox_from_mode

__all__ = ["Sandbox", "SandboxLimits", "SandboxUnavailable", "sandbox_from_mode"]
