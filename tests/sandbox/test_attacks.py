"""Attack suite: hostile notebooks cannot harm the host, hang the worker or cost other questions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from engine.conftest import scores, statuses
from nbformat import v4

from grader.engine.answers import defined_names
from grader.engine.locator import headings, locate
from sandbox.conftest import FULL, grade, last_cell_text, with_attack

# Slow: grades hostile notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

BEFORE_Q3 = {"feature": 2.0, "model": 3.0}


# Attacks in a section of their own after the answers: every answer is still graded in full.
AFTER_ANSWERS = {
    "memory bomb": "x = bytearray(4 * 1024**3)",
    "memory split over processes": "import multiprocessing as mp\n"
    "def hog(_):\n    return len(bytearray(500 * 1024**2))\n"
    "with mp.Pool(4) as pool:\n    print(pool.map(hog, range(4)))",
    "fork bomb": "import os\nwhile True:\n    os.fork()",
    "thread bomb": "import threading, time\nthreads = []\nwhile True:\n"
    "    t = threading.Thread(target=time.sleep, args=(60,)); t.start(); threads.append(t)",
    "os._exit": "import os\nos._exit(3)",
    "kernel suicide": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "SIGKILL to its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "setsid double-fork survivor": "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
    "    if os.fork() == 0:\n        time.sleep(600)\n    os._exit(0)\n"
    "time.sleep(1)\nprint('parent done')",
    "subprocess spawning": "import subprocess\n"
    "subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
    "print(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout)",
    "one huge file": "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (200 * 1024**2))",
    "many small files": (
        "import os\nfor i in range(200000):\n    open(f'f{i}', 'w').write('x' * 100)"
    ),
    "stdout flood": (
        "import sys\nfor _ in range(20000):\n    sys.stdout.write('spam ' * 2000 + '\\n')"
    ),
    "breaking the kernel's messages": (
        "import json\njson.dumps = lambda *args, **kwargs: '{}'\nprint('broken')"
    ),
    # Each message different (so no repeated signature), none with a header jupyter_client can use.
    "kernel messages without ids": (
        "import itertools, json\ncount = itertools.count()\n"
        "json.dumps = lambda *args, **kwargs: '{\"n\": %d}' % next(count)\nprint('broken')"
    ),
    "symlink to a host file": "import os\nos.symlink('/etc/passwd', 'passwd-link')\n"
    "os.symlink('/work', 'work-link')\nprint(sorted(os.listdir('.')))",
}


@pytest.mark.parametrize("attack", AFTER_ANSWERS, ids=list(AFTER_ANSWERS))
def test_attack_after_the_answers_costs_nothing(attack_package, attack, sandbox):
    result = grade(sandbox, attack_package, with_attack(AFTER_ANSWERS[attack]))
    assert scores(result.report) == FULL
    assert len(nbformat.writes(result.executed)) < 2_000_000, "the stored notebook stays small"


@pytest.mark.parametrize(
    "attack", ["breaking the kernel's messages", "kernel messages without ids"]
)
def test_breaking_the_kernel_protocol_is_explained(attack_package, sandbox, attack):
    result = grade(sandbox, attack_package, with_attack(AFTER_ANSWERS[attack]))
    assert "broke the kernel's connection to the grader" in result.report.stopped_reason


def test_memory_bomb_is_reported_as_such(attack_package, sandbox):
    result = grade(sandbox, attack_package, with_attack(AFTER_ANSWERS["memory bomb"]))
    text = (result.report.stopped_reason or "") + last_cell_text(result)
    assert "memory" in text.lower()


def test_stdout_flood_is_truncated_with_a_marker(attack_package, sandbox):
    # Small enough for the kernel's memory; the 200 MB flood above is stopped by the memory limit
    # instead.
    result = grade(
        sandbox, attack_package, with_attack("for _ in range(2000):\n    print('spam ' * 2000)")
    )
    assert "[grader: output truncated here" in last_cell_text(result)
    assert len(last_cell_text(result)) < 200_000


def test_huge_rich_outputs_across_many_cells_stay_small(attack_package, sandbox):
    nb = with_attack(
        "from IPython.display import display, HTML\ndisplay(HTML('<p>' + 'x' * 2_000_000 + '</p>'))"
    )
    nb.cells += [
        v4.new_code_cell("display(HTML('<b>' + 'y' * 60_000 + '</b>'))") for _ in range(60)
    ]
    result = grade(sandbox, attack_package, nb)
    assert scores(result.report) == FULL
    assert len(nbformat.writes(result.executed)) < 4_000_000


# Attacks inside Question 3's section: only that question is lost.
IN_QUESTION = {
    "infinite loop": ("while True:\n    pass", "timed_out"),
    "sleep forever": ("import time\ntime.sleep(10**6)", "timed_out"),
}


@pytest.mark.parametrize("attack", IN_QUESTION, ids=list(IN_QUESTION))
def test_attack_inside_a_question_costs_only_that_question(attack_package, attack, sandbox):
    source, status = IN_QUESTION[attack]
    result = grade(sandbox, attack_package, with_attack(source, where="question 3"))
    assert statuses(result.report)["answer"] == status
    assert "ran out of time" in result.report.questions[2].message
    assert scores(result.report) == {**FULL, "answer": 0.0}


def test_loop_that_ignores_sigint_is_killed(attack_package, sandbox):
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    result = grade(sandbox, attack_package, with_attack(stubborn, where="question 3"))
    assert statuses(result.report)["answer"] == "timed_out"
    assert {k: v for k, v in scores(result.report).items() if k in BEFORE_Q3} == BEFORE_Q3
    assert "could not be stopped" in result.report.stopped_reason


PROBES = {
    "reading /etc/shadow": ("open('/etc/shadow').read()", "PermissionError"),
    "writing outside scratch": ("open('/usr/evil.txt', 'w')", "OSError"),
    "writing into the public data": ("open('data/band.csv', 'a').write('x')", "OSError"),
    "network by IP": (
        "import socket\ns = socket.create_connection(('1.1.1.1', 80), timeout=3)",
        "OSError",
    ),
    "network by name": ("import socket\nsocket.getaddrinfo('example.com', 443)", "gaierror"),
    "raw socket": (
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
        "PermissionError",
    ),
    "the grader's database on loopback": (
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=3)",
        "ConnectionRefusedError",
    ),
    "the broker on loopback": (
        "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=3)",
        "ConnectionRefusedError",
    ),
    "the database's unix socket": (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect('/var/run/postgresql/.s.PGSQL.5432')",
        "FileNotFoundError",
    ),
}


@pytest.mark.parametrize("attack", PROBES, ids=list(PROBES))
def test_forbidden_operations_fail_inside_the_sandbox(attack_package, attack, sandbox):
    source, error = PROBES[attack]
    result = grade(sandbox, attack_package, with_attack(source))
    errors = [e for e in result.report.cell_errors if e["source"] == source]
    assert errors and (errors[0]["ename"] == error or error == "OSError")
    assert scores(result.report) == FULL
    assert not Path("/usr/evil.txt").exists()


def test_host_secrets_are_invisible(attack_package, tmp_path, sandbox):
    secret_dir = tmp_path / "another-submission"
    secret_dir.mkdir()
    (secret_dir / "notebook.ipynb").write_text("secret")
    hidden = attack_package.hidden_dir / "band.csv"
    spy = (
        "import os, glob\n"
        f"print('hidden', os.path.exists({str(hidden)!r}))\n"
        f"print('other', os.path.exists({str(secret_dir)!r}))\n"
        "print('env', sorted(k for k in os.environ if 'GRADER' in k or 'DATABASE' in k))\n"
        "leaks = []\n"
        "for path in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n        leaks.append(b'GRADER_' in open(path, 'rb').read())\n"
        "    except OSError:\n        pass\n"
        "print('proc', any(leaks))\n"
        "print('uid', os.getuid())"
    )
    os.environ["GRADER_SECRET_KEY_FOR_TEST"] = "do-not-leak"
    try:
        result = grade(sandbox, attack_package, with_attack(spy))
    finally:
        del os.environ["GRADER_SECRET_KEY_FOR_TEST"]
    printed = last_cell_text(result)
    assert "hidden False" in printed and "other False" in printed
    assert "env []" in printed and "proc False" in printed and "uid 65534" in printed


def test_ten_thousand_cells_end_with_a_clear_message(attack_package, sandbox):
    nb = with_attack("x = 0")
    nb.cells += [v4.new_code_cell("x += 1") for _ in range(10_000)]
    result = grade(sandbox, attack_package, nb)
    assert scores(result.report) == FULL
    assert result.report.stopped_reason is None or "limit" in result.report.stopped_reason


def test_regex_hostile_notebook_is_graded_with_static_analysis_under_two_seconds(
    attack_package, monkeypatch, sandbox
):
    """6,000 spaces in a heading and 20,000 lines of `a: int` in an answer held a worker for
    minutes."""
    spent = []

    def timed(function):
        def measured(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - started)

        return measured

    monkeypatch.setattr("grader.engine.grade.headings", timed(headings))
    monkeypatch.setattr("grader.engine.grade.locate", timed(locate))
    monkeypatch.setattr("grader.engine.scorer.defined_names", timed(defined_names))
    nb = with_attack("\n".join(["a: int"] * 20_000), where="question 3")
    nb.cells.append(v4.new_markdown_cell("# a" + " " * 6000 + "b"))
    result = grade(sandbox, attack_package, nb)
    assert len(spent) > 10 and sum(spent) < 2, f"static analysis took {sum(spent):.1f} s"
    assert scores(result.report) == FULL
