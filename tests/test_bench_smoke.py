"""The benchmark scripts still run end to end (a smoke test: no speed is asserted).

Each script is started as ``docs/performance.md`` says, with the shortest
windows, and must exit 0 and print its tables. Speed is what the scripts
measure when run by hand; here it only matters that they still can.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_bench(script: str, *args: str, timeout: float = 240) -> str:
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n" \
                                   f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.timeout(300)
def test_e2e_bench_runs_and_reports_every_part() -> None:
    out = run_bench("e2e_bench.py", "--seconds", "0.5", "--warmup", "0.2",
                    "--concurrency", "2", "--rounds", "1", "--attempts", "1")
    for line in ("up C=2", "floor C=2", "apart C=2", "conn C=2", "core check: exit 0",
                 "e2e / floor, all rounds", "bound: floor + connection floor + ledger"):
        assert line in out, (line, out)
    assert "moved exactly" in out and "ERRORS" not in out, out


@pytest.mark.timeout(300)
def test_core_bench_runs() -> None:
    out = run_bench("core_bench.py", "--seconds", "0.5", "--warmup", "0.2",
                    "--concurrency", "2", "--sqlite-seconds", "0.2", "--no-stub")
    assert "C=2" in out and "core check: exit 0" in out, out


def test_protocol_bench_runs() -> None:
    out = run_bench("protocol_bench.py", "--seconds", "0.3", "--block", "20")
    assert "protocol overhead" in out, out


def test_plugin_startup_bench_runs() -> None:
    out = run_bench("plugin_startup.py", "--runs", "1", "--warmup", "0", "--no-pieces")
    for line in ("parallel    pair READY", "sequential  pair READY", "CPU s"):
        assert line in out, (line, out)
