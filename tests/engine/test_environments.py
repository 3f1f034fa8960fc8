"""`runtime.packages`: requirements are checked in the rubric, resolved against the grader's own
packages, built once into a folder named by what they resolved to, and shown to the kernel first
on its import path, read-only. Resolution and installation are real pip runs on a local index."""

from __future__ import annotations

import copy

import pytest

from engine.local_index import local_index, write_source_archive, write_wheel  # noqa: F401
from engine.mini_package import RUBRIC
from grader.engine import environments
from grader.engine.environments import EnvironmentBuildError, EnvironmentStore
from grader.engine.rubric import MAX_RUNTIME_PACKAGES, RubricError, parse_rubric
from grader.sandbox import Sandbox, SandboxLimits
from grader.sandbox.bubblewrap import bwrap_command


def with_packages(packages) -> dict:
    rubric = copy.deepcopy(RUBRIC)
    rubric["runtime"]["packages"] = packages
    return rubric


def test_index_requirements_are_accepted():
    runtime = parse_rubric(with_packages(["pandas>=2.2,<3", "vega_datasets==0.9.0"])).runtime
    assert runtime.packages == ["pandas>=2.2,<3", "vega_datasets==0.9.0"]
    assert parse_rubric(copy.deepcopy(RUBRIC)).runtime.packages == []


@pytest.mark.parametrize(
    "packages, message",
    [
        (["evil @ https://attacker.example/evil.whl"], "not a URL"),
        (["--index-url=https://attacker.example/simple"], "is not a pip requirement"),
        (["pandas<<3"], "is not a pip requirement"),
        (["pandas"] * (MAX_RUNTIME_PACKAGES + 1), f"at most {MAX_RUNTIME_PACKAGES} items"),
        ("pandas<3", "valid list"),
    ],
)
def test_bad_requirements_are_refused_with_the_reason(packages, message):
    with pytest.raises(RubricError, match="runtime.packages") as refused:
        parse_rubric(with_packages(packages))
    assert message in str(refused.value)


def test_packages_are_built_once_into_a_folder_named_by_what_they_resolve_to(
    local_index, tmp_path, monkeypatch
):
    store = EnvironmentStore(tmp_path / "environments")
    steps = []
    built = store.prepare(["course_helpers==1.0"], steps.append)
    assert [pin.name for pin in built.pins] == ["course-helpers"]
    assert steps == [
        "Resolving the assignment's packages: course_helpers==1.0",
        "Installing course-helpers 1.0",
    ]
    assert "from the course wheel" in (built.site / "course_helpers" / "__init__.py").read_text()
    # The kernel's unprivileged user must be able to read it.
    assert built.root.stat().st_mode & 0o755 == 0o755

    # Another spelling that resolves to the same set: resolved again, but not installed again.
    def no_install(*_args):
        raise AssertionError("installed a second time")

    monkeypatch.setattr(environments, "install", no_install)
    steps.clear()
    assert store.prepare(["course-helpers>=1"], steps.append).root == built.root
    assert steps == ["Resolving the assignment's packages: course-helpers>=1"]

    # The same requirements again: neither resolved nor installed.
    monkeypatch.setattr(environments, "resolve", no_install)
    steps.clear()
    assert store.prepare(["course_helpers==1.0"], steps.append).root == built.root
    assert steps == []


def test_requirements_the_grader_already_meets_need_no_folder(local_index, tmp_path):
    store = EnvironmentStore(tmp_path / "environments")
    assert store.prepare(["packaging>=1"]) is None
    assert store.prepare([]) is None
    assert not any(path.name != "resolved" for path in (tmp_path / "environments").iterdir())


def test_a_requirement_no_index_meets_says_so(local_index, tmp_path):
    with pytest.raises(EnvironmentBuildError) as refused:
        EnvironmentStore(tmp_path / "environments").prepare(["course_helpers>=2"])
    message = str(refused.value)
    assert message.startswith("runtime.packages could not be resolved:")
    assert "No matching distribution found for course_helpers>=2" in message


def test_a_package_the_kernel_runs_on_cannot_be_replaced(local_index, tmp_path):
    write_wheel(local_index, "traitlets", "0.1", "")
    with pytest.raises(EnvironmentBuildError, match="which the grader's kernel itself runs on"):
        EnvironmentStore(tmp_path / "environments").prepare(["traitlets==0.1"])
    assert not list((tmp_path / "environments").glob("*/site"))


def test_a_source_only_package_is_refused_and_its_build_code_never_runs(local_index, tmp_path):
    ran = tmp_path / "setup-ran"
    write_source_archive(local_index, "evil", "1.0", f"open({str(ran)!r}, 'w').write('pwned')\n")
    with pytest.raises(EnvironmentBuildError, match="could not be resolved"):
        EnvironmentStore(tmp_path / "environments").prepare(["evil==1.0"])
    assert not ran.exists()


def test_the_sandbox_shows_the_folder_read_only_and_first_on_the_import_path(tmp_path):
    library = tmp_path / "environments" / "abc" / "site"
    command = bwrap_command(
        ["python"],
        limits=SandboxLimits(),
        readonly_entries=tmp_path,
        shared_dir=tmp_path,
        env={},
        cgroup_procs=[],
        seccomp_file=tmp_path / "filter.bpf",
        library_dirs=(library,),
    )
    bound = [command[i + 1 : i + 3] for i, arg in enumerate(command) if arg == "--ro-bind"]
    assert [str(library), str(library)] in bound
    assert ["--bind", str(library)] not in [command[i : i + 2] for i in range(len(command))]

    with Sandbox(enforced=False).kernel(
        SandboxLimits(), tmp_path, tmp_path, {"PATH": "/usr/bin"}, (library,)
    ) as launch:
        assert launch.env["PYTHONPATH"] == str(library)
    with Sandbox(enforced=False).kernel(SandboxLimits(), tmp_path, tmp_path, {}) as launch:
        assert "PYTHONPATH" not in launch.env
