"""``directlink up`` keeps its bank running: a core killed with SIGKILL comes back.

A harness that kills the bank mid-test gets it back on the same address,
``up`` says so on stderr, the daemon reconnects, and what the bank
acknowledged before the kill is still there, executed once. A core that
cannot be started again ends ``up`` with one line saying why.
"""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal
from pathlib import Path

from tests.erp_client import (
    ACNO_1,
    Running,
    cli,
    running_up,
    start_process,
    transfer_body,
    unique_req_no,
    up_args,
)


def core_pid(home: Path) -> int:
    return int((home / "core" / "core.pid").read_text())


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def restarted_pid(up: Running, killed: int) -> int:
    """Wait until ``up`` has said the core is back, and a new pid file names it."""
    wait_for(lambda: "the bank core is back on" in up.stderr(), "the core back")
    wait_for(lambda: (up.home / "core" / "core.pid").exists()
             and core_pid(up.home) != killed, "a new core pid file")
    return core_pid(up.home)


def test_a_killed_core_is_restarted_on_its_address_and_keeps_what_it_acknowledged(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_up(home) as up:
        erp = up.client()
        req_no = unique_req_no("KILL")
        first = erp.send("210201", transfer_body("7.00"), req_no=req_no)
        assert first.ok, first
        balance = erp.balance(ACNO_1)

        killed = core_pid(home)
        os.kill(killed, signal.SIGKILL)
        new = restarted_pid(up, killed)
        assert new != killed
        said = up.stderr()
        host, port = up.core
        assert f"the bank core exited (killed by SIGKILL); restarting it on {host}:{port}" \
            in said
        assert "Traceback" not in said

        # The daemon reconnects to the same address on its own; the retry of the
        # acknowledged transfer is answered from the ledger, not executed again.
        wait_for(lambda: erp.send("310101", {"acno": ACNO_1}).ok, "the daemon reconnected")
        retry = erp.send("210201", transfer_body("7.00"), req_no=req_no)
        assert retry.ok and retry.head["serial_no"] == first.head["serial_no"], retry
        assert erp.balance(ACNO_1) == balance
        after = erp.send("210201", transfer_body("1.00"), req_no=unique_req_no("KILL"))
        assert after.ok, after
        assert erp.balance(ACNO_1) == balance - Decimal("1.00")

        # A second kill is survived the same way.
        os.kill(new, signal.SIGKILL)
        restarted_pid(up, new)
        wait_for(lambda: up.stderr().count("the bank core is back on") == 2,
                 "the second restart")
        wait_for(lambda: erp.send("310101", {"acno": ACNO_1}).ok, "the daemon reconnected")
        assert up.stop() == 0
    assert cli("core", "check", "--home", str(home), check=False).returncode == 0


def test_a_core_that_cannot_start_again_ends_up_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = start_process(up_args(home), home)
    try:
        # The running core has read its keys; a restart reads them again and fails.
        (home / "core" / "bank-keys.pem").write_text("not a key\n")
        os.kill(core_pid(home), signal.SIGKILL)
        code = up.proc.wait(timeout=60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    said = up.stderr()
    assert code != 0
    assert said.count("the bank core did not start again") >= 1
    last = said.strip().splitlines()[-1]
    assert last.startswith("Error: the bank core stopped (killed by SIGKILL) and could not "
                           "be started again: 5 attempts; the last: "), said[-2000:]
    assert "Traceback" not in said
