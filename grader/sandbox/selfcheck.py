"""Fail closed: before grading anything, prove that the sandbox really isolates."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox.limits import SandboxLimits
from grader.sandbox.policy import Sandbox

_PROBE = """
import json, os, socket, sys
found = {"uid": os.getuid(), "readable": [p for p in sys.argv[1:] if os.access(p, os.R_OK)]}
s = socket.socket()
s.settimeout(2)
found["network"] = s.connect_ex(("1.1.1.1", 53)) == 0
try:
    socket.getaddrinfo("example.com", 80)
    found["dns"] = True
except OSError:
    found["dns"] = False
print(json.dumps(found))
"""


def isolation_problems(sandbox: Sandbox, secret_paths: list[str]) -> list[str]:
    """What a sandboxed process could do that it must not; empty when isolation holds."""
    with tempfile.TemporaryDirectory() as visible, tempfile.TemporaryDirectory() as shared, \
            sandbox.kernel(SandboxLimits(), Path(visible), Path(shared), {"PATH": "/usr/bin:/bin"}) as launch:
        command = launch.wrap([sys.executable, "-c", _PROBE, "/etc/shadow", *secret_paths])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=visible)
            found = json.loads(done.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
            return [f"the sandbox probe did not run ({exc}); stderr: {getattr(done, 'stderr', '')[-500:]}"]
    problems = []
    if found["uid"] == 0:
        problems.append("notebooks would run as root")
    if found["network"] or found["dns"]:
        problems.append("notebooks could reach the network")
    problems += [f"notebooks could read {path}" for path in found["readable"]]
    return problems
