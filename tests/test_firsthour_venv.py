"""scripts/_venv.sh installs only what is missing: `up` after `test` installs nothing.

The script runs for real, in a scratch copy of the checkout (the script and a
pyproject.toml), with a stand-in Python: ``python3 -m venv DIR`` makes a
``DIR/bin/python`` that records each ``pip install`` instead of running it.
So the test needs no network, and what it checks is exactly which installs
the script asks for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
# The stand-in interpreter: `-m venv DIR` creates a venv of stand-ins, anything
# else (pip) is recorded in $FAKE_LOG.
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    exit 0
fi
echo "$*" >> "$FAKE_LOG"
"""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha256sum") is None,
                                reason="needs bash and sha256sum")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "_venv.sh", root / "scripts" / "_venv.sh")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON, encoding="utf-8")
    fake.chmod(0o755)
    return root


def setup_venv(checkout: Path, extras: str) -> list[str]:
    """Source _venv.sh as scripts/up ("") or scripts/test ("test") do; the pip calls made."""
    log = checkout.parent / "pip.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PYTHON": str(checkout.parent / "python3"), "FAKE_LOG": str(log)}
    subprocess.run(["bash", "-c", 'source "$0" "$1"', str(checkout / "scripts" / "_venv.sh"),
                    extras], check=True, env=env, capture_output=True, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


def installs(calls: list[str]) -> list[str]:
    """The ``pip install -e`` targets among the calls (pip's own upgrade left out)."""
    return [call.split()[-1] for call in calls if " -e " in call]


def test_up_after_test_installs_nothing(checkout: Path) -> None:
    root = str(checkout)
    first = setup_venv(checkout, "test")  # a fresh clone: no .venv
    assert installs(first) == [f"{root}[test]"]
    assert any("--upgrade pip" in call for call in first)
    assert setup_venv(checkout, "") == []
    assert setup_venv(checkout, "test") == []


def test_test_after_up_installs_only_the_extras(checkout: Path) -> None:
    root = str(checkout)
    assert installs(setup_venv(checkout, "")) == [root]
    again = setup_venv(checkout, "test")
    assert installs(again) == [f"{root}[test]"]
    assert not any("--upgrade pip" in call for call in again)  # the venv was there
    assert setup_venv(checkout, "") == []
    assert setup_venv(checkout, "test") == []


def test_a_changed_pyproject_installs_again(checkout: Path) -> None:
    root = str(checkout)
    setup_venv(checkout, "test")
    with open(checkout / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write('version = "2"\n')
    assert installs(setup_venv(checkout, "")) == [root]
    assert installs(setup_venv(checkout, "test")) == [f"{root}[test]"]
    assert setup_venv(checkout, "") == []
    stamps = sorted(p.name for p in (checkout / ".venv").glob(".installed-*"))
    assert len(stamps) == 2 and stamps[1] == stamps[0] + "-test"  # the old hash's are gone


def test_a_venv_stamped_by_the_old_script_is_kept(checkout: Path) -> None:
    """The stamp the previous _venv.sh left after `test` (one file, extras in its name)."""
    setup_venv(checkout, "test")
    venv = checkout / ".venv"
    (stamp,) = [p for p in venv.glob(".installed-*") if p.name.endswith("-test")]
    for other in venv.glob(".installed-*"):
        if other != stamp:
            other.unlink()
    assert setup_venv(checkout, "") == []
    assert setup_venv(checkout, "test") == []
