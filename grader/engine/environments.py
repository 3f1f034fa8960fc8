"""Per-assignment Python packages (`runtime.packages`), layered on the grader's own environment.

A lab may need a package the grader lacks (`vega_datasets`) or a course-era version of one it has
(`pandas<3`). pip resolves the requirements against the grader's installed packages, so only what
differs is installed: the resolved set goes into a folder of its own, named by the hash of that set
(and of the grader's environment), which the sandbox shows read-only and puts first on the kernel's
`sys.path`. Assignments whose requirements resolve to the same set share one folder; a machine
resolves each assignment's requirements once and builds each set once.

Only wheels are installed: an instructor's requirement never runs a package's build code on the
worker. Packages the kernel itself runs on (ipykernel and what it needs) cannot be replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Resolving and installing go to the package index; a slow mirror gets this long for each.
PIP_TIMEOUT_SECONDS = 900
# The end of pip's error output that a build failure quotes.
PIP_ERROR_LINES = 12
COMPLETE_MARKER = "complete"
# Reported while an assignment's packages are resolved and built (they are not ready yet).
BuildProgress = Callable[[str], None]


class EnvironmentBuildError(RuntimeError):
    """`runtime.packages` cannot be resolved or installed; the message quotes pip's reason."""


@dataclass(frozen=True)
class Pin:
    """One resolved package: exactly this file is installed."""

    name: str
    version: str
    url: str
    sha256: str

    @property
    def requirement_line(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


@dataclass(frozen=True)
class AssignmentEnvironment:
    """A built set of packages: `site` is the folder the kernel imports them from."""

    root: Path
    pins: tuple[Pin, ...]

    @property
    def site(self) -> Path:
        return self.root / "site"

    def describe(self) -> str:
        return ", ".join(f"{pin.name} {pin.version}" for pin in self.pins)


def default_environments_dir() -> Path:
    """Where the command line keeps built environments (a worker keeps them in its instance
    folder)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "grader" / "environments"


class EnvironmentStore:
    """Built environments under `root` (one machine's cache: losing it costs a rebuild, nothing
    else)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_environments_dir()

    def prepare(
        self, requirements: Sequence[str], on_step: BuildProgress | None = None
    ) -> AssignmentEnvironment | None:
        """The environment for `requirements`, resolved and built if this machine has not yet;
        None when the grader's own packages already satisfy them."""
        if not requirements:
            return None
        step = on_step or (lambda _message: None)
        pins = self._resolved(requirements, step)
        if not pins:
            return None
        return self._built(pins, step)

    def _resolved(self, requirements: Sequence[str], step: BuildProgress) -> tuple[Pin, ...]:
        request = _digest({"requirements": sorted(requirements), "base": base_environment_id()})
        record = self.root / "resolved" / f"{request}.json"
        if record.is_file():
            return tuple(Pin(**pin) for pin in json.loads(record.read_text()))
        step(f"Resolving the assignment's packages: {', '.join(requirements)}")
        pins = resolve(requirements)
        _write_atomically(record, json.dumps([vars(pin) for pin in pins]))
        return pins

    def _built(self, pins: tuple[Pin, ...], step: BuildProgress) -> AssignmentEnvironment:
        key = _digest({"pins": [vars(pin) for pin in pins], "base": base_environment_id()})
        environment = AssignmentEnvironment(self.root / key, pins)
        if (environment.root / COMPLETE_MARKER).is_file():
            return environment
        step(f"Installing {environment.describe()}")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=self.root))
        try:
            install(pins, staging / "site")
            (staging / COMPLETE_MARKER).write_text(environment.describe() + "\n")
            # The kernel runs as an unprivileged user; mkdtemp made the folder for its owner only.
            staging.chmod(0o755)
            try:
                staging.rename(environment.root)
            except OSError:
                if not (environment.root / COMPLETE_MARKER).is_file():
                    raise  # not just another worker on this machine finishing the same build first
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return environment


def resolve(requirements: Sequence[str]) -> tuple[Pin, ...]:
    """What pip would install, beside the grader's packages, to satisfy `requirements`."""
    with tempfile.TemporaryDirectory(prefix="grader-resolve-") as scratch:
        report = Path(scratch) / "report.json"
        _pip(
            ["install", "--dry-run", "--report", str(report), *_WHEELS_ONLY, "--", *requirements],
            "could not be resolved",
        )
        planned = json.loads(report.read_text()).get("install", [])
    pins = tuple(sorted((_pin(item) for item in planned), key=lambda pin: pin.name))
    replaced = sorted(pin.name for pin in pins if pin.name in kernel_distributions())
    if replaced:
        raise EnvironmentBuildError(
            f"{', '.join(requirements)} would replace {', '.join(replaced)}, which the grader's "
            "kernel itself runs on; leave those out or pin the versions the grader has ("
            + ", ".join(f"{name} {metadata.version(name)}" for name in replaced)
            + ")"
        )
    return pins


def install(pins: Sequence[Pin], site: Path) -> None:
    """Install exactly `pins` (by hash, no dependencies of their own: the resolution chose them)
    into `site`."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="grader-pins-") as listing:
        listing.write("".join(pin.requirement_line + "\n" for pin in pins))
        listing.flush()
        _pip(
            [
                "install",
                "--no-deps",
                "--require-hashes",
                *_WHEELS_ONLY,
                "--target",
                str(site),
                "--requirement",
                listing.name,
            ],
            "could not be installed",
        )


_WHEELS_ONLY = ["--only-binary", ":all:", "--no-input", "--quiet"]


def _pip(arguments: list[str], failure: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            env={**os.environ, "PIP_NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentBuildError(
            f"runtime.packages {failure}: pip took longer than {PIP_TIMEOUT_SECONDS} s"
        ) from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        reason = "\n".join((errors or done.stderr.strip().splitlines())[-PIP_ERROR_LINES:])
        raise EnvironmentBuildError(f"runtime.packages {failure}:\n{reason}")


def _pin(item: dict[str, Any]) -> Pin:
    download = item.get("download_info", {})
    hashes = download.get("archive_info", {}).get("hashes", {})
    name = canonicalize_name(item["metadata"]["name"])
    if "sha256" not in hashes:
        raise EnvironmentBuildError(
            f"runtime.packages: {name} does not come as a file with a known hash from the index "
            "(a folder or a version-control URL); only index packages can be used"
        )
    return Pin(name, item["metadata"]["version"], download["url"], hashes["sha256"])


@cache
def kernel_distributions() -> frozenset[str]:
    """ipykernel and every package it needs: what the kernel process runs on, whatever the
    notebook."""
    seen: set[str] = set()
    waiting = ["ipykernel"]
    while waiting:
        name = canonicalize_name(waiting.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                waiting.append(requirement.name)
    return frozenset(seen)


@cache
def base_environment_id() -> str:
    """Changes whenever the grader's Python or any of its packages does (the resolution was made
    against them)."""
    installed = sorted(
        f"{canonicalize_name(dist.metadata['Name'])}=={dist.version}"
        for dist in metadata.distributions()
    )
    return _digest({"python": sys.version, "platform": platform.platform(), "installed": installed})


def _digest(content: object) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)
