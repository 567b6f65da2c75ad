"""The README's commands and `up`'s "try next" hints run as printed, in a new shell.

A new shell has no `directlink` on PATH (no activated venv): the tests run
every command through ``sh`` with the venv's bin directory taken off PATH.
The README's "Running the halves separately" runs from a scratch directory
with the checkout's ``.venv`` linked in, so its homes land there; the only
changes to what is printed are port 0 for the listeners (and the ports the
READY lines then name), so that the test can run beside others.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.erp_client import ACNO_1, REPO, Running, parse_ready

README = REPO / "README.md"
VENV_DIRECTLINK = REPO / ".venv" / "bin" / "directlink"


def new_shell_env(**extra: str) -> dict[str, str]:
    """The environment of a new shell: PATH without any directory holding `directlink`."""
    path = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep)
            if d and not (Path(d) / "directlink").exists()]
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "DIRECTLINK_HOME", "DIRECTLINK_PASSWORD")}
    return {**env, "PATH": os.pathsep.join(path), **extra}


def sh(line: str, cwd: Path, env: dict[str, str], *, stdin=subprocess.DEVNULL,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", line], cwd=cwd, env=env, stdin=stdin, text=True,
                          errors="replace", capture_output=True, timeout=timeout)


def readme_block(title: str) -> list[str]:
    """The commands of the first ``sh`` block under ``## title``: comments and ``\\`` joined."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"## {title}\n"):]
    block = section[section.index("```sh\n") + 6:]
    block = block[:block.index("```")]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            commands.append(" ".join(line.split()))
    return commands


def test_every_readme_command_runs_directlink_from_the_venv() -> None:
    """The quick start and the separate halves call it the same way, never bare."""
    for title in ("Quick start", "Running the halves separately"):
        text = README.read_text(encoding="utf-8")
        section = text[text.index(f"## {title}\n"):]
        section = section[:section.index("\n## ", 4)]
        for block in re.findall(r"```sh\n(.*?)```", section, re.S):
            for line in block.splitlines():
                code = line.split("#", 1)[0].strip()
                if re.match(r"directlink\b", code):
                    raise AssertionError(f"README {title!r}: bare `directlink`: {line}")
    assert readme_block("Running the halves separately")[0].startswith(".venv/bin/directlink")


def test_readme_config_init_example_says_what_the_numbers_are() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Running the halves separately\n"):]
    assert "corp_no is\n# 1-20 digits" in section or "corp_no is 1-20 digits" in section
    assert "user_no 1-20 letters or digits" in section


# -- up's hints ---------------------------------------------------------------------


def hint_commands(up: Running) -> list[str]:
    lines = up.stderr().splitlines()
    start = lines.index("Try:") + 1
    hints = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        hints.append(line.strip())
    return hints


def test_up_hints_run_as_printed_in_a_new_shell(up_system: Running) -> None:
    hints = hint_commands(up_system)
    assert any(" send " in hint and hint.endswith(" balance") for hint in hints), hints
    env = new_shell_env()
    for hint in hints:
        if hint.startswith("curl ") and shutil.which("curl") is None:
            continue
        # up ran in the checkout (tests.erp_client starts it there): so does the user.
        result = sh(hint, REPO, env)
        assert result.returncode == 0, (hint, result.stdout, result.stderr)
        if hint.endswith(" balance"):
            assert ACNO_1 in result.stdout, (hint, result.stdout)
    check = re.search(r"Check the ledger: (.*?)\.  Stop", up_system.stderr())
    assert check is not None
    result = sh(check[1], REPO, env)
    assert result.returncode == 0 and "OK:" in result.stdout, (check[1], result.stderr)


# -- the README's separate halves ---------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    if not VENV_DIRECTLINK.exists():
        pytest.skip("no .venv/bin/directlink in the checkout (./scripts/test makes it)")
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    return tmp_path


def with_tty(input_text: str) -> tuple[int, int]:
    """A pseudo-terminal with ``input_text`` typed into it: (master, slave) descriptors."""
    master, slave = os.openpty()
    os.write(master, input_text.encode())
    return master, slave


def start(line: str, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start a serving command through ``sh``; its READY line."""
    proc = subprocess.Popen(["sh", "-c", f"exec {line}"], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    deadline, buffered = time.monotonic() + 60, b""
    while b"\n" not in buffered:
        ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"{line}: no READY line: {err.decode(errors='replace')}")
        buffered += chunk
    return proc, buffered.split(b"\n", 1)[0].decode()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen]]:
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in reversed(procs):
        stop(proc)


def test_readme_separate_halves_run_as_printed(scratch: Path,
                                               serving: list[subprocess.Popen]) -> None:
    commands = readme_block("Running the halves separately")
    env = new_shell_env(DIRECTLINK_PASSWORD="readme walkthrough password")
    core_port = erp_port = None
    for line in commands:
        argv = shlex.split(line)
        assert argv[0] == ".venv/bin/directlink", line
        if argv[1:3] == ["core", "serve"]:
            proc, ready = start(f"{line} --port 0", scratch, env)
            serving.append(proc)
            core_port = parse_ready(ready)["core"][1]
            continue
        if argv[1:3] == ["daemon", "serve"]:
            assert core_port is not None, "the README starts the daemon before the core"
            proc, ready = start(f"{line} --core-port {core_port} --erp-port 0 --http-port 0",
                                scratch, env)
            serving.append(proc)
            erp_port = parse_ready(ready)["erp_tcp"][1]
            continue
        if argv[1] == "send":
            assert erp_port is not None, "the README sends before the daemon is up"
            line = line.replace(" send ", f" send --port {erp_port} ", 1)
        master = slave = None
        stdin = subprocess.DEVNULL
        if argv[1] == "enroll":  # it asks to confirm the fingerprint: the admin says yes
            master, slave = with_tty("y\n")
            stdin = slave
        try:
            result = sh(line, scratch, env, stdin=stdin)
        finally:
            for fd in (master, slave):
                if fd is not None:
                    os.close(fd)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
    assert erp_port is not None, "the README never starts the daemon"
    assert ACNO_1 in result.stdout  # the balance of the demo enterprise's accounts

